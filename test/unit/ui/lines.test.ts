import { expect } from 'chai';
import fc from 'fast-check';
import { LineBuffer } from '../../../src/ui/lines.js';
import type { Job } from '../../../src/domain/model.js';
import { PlainRenderer } from '../../../src/ui/plain.js';

/** What `exec` printed before: split into lines, strip one `\r` before each `\n`, prefix each line. */
function reference(chunks: string[], prefix: string): { printed: string; rest: string } {
  let partial = '';
  let printed = '';
  for (const chunk of chunks) {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) printed += `${prefix}${line.endsWith('\r') ? line.slice(0, -1) : line}\n`;
  }
  return { printed, rest: partial };
}

describe('LineBuffer.prefixed (pure)', () => {
  it('prints exactly what line-by-line splitting printed, for any chunks, prefixes and line endings', () => {
    const text = fc.string({ unit: fc.constantFrom('a', 'é', '\n', '\r', '\r\n', ' ', '😀'), maxLength: 60 });
    fc.assert(
      fc.property(fc.array(text, { maxLength: 12 }), fc.constantFrom('', 'web-1: ', 'x:  '), (chunks, prefix) => {
        const lines = new LineBuffer();
        let printed = '';
        for (const chunk of chunks) printed += lines.prefixed('k', chunk, prefix);
        let rest = '';
        lines.flush('k', (line) => (rest = line));
        expect({ printed, rest }).to.deep.equal(reference(chunks, prefix));
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps keys apart and returns nothing until a line is complete', () => {
    const lines = new LineBuffer();
    expect(lines.prefixed('a', 'one', 'A: ')).to.equal('');
    expect(lines.prefixed('b', 'two\r\nthree', 'B: ')).to.equal('B: two\n');
    expect(lines.prefixed('a', ' more\n\nnext', 'A: ')).to.equal('A: one more\nA: \n');
    const rest: string[] = [];
    lines.flush('a', (l) => rest.push(l));
    lines.flush('b', (l) => rest.push(l));
    lines.flush('c', (l) => rest.push(l));
    expect(rest).to.deep.equal(['next', 'three']);
  });

  it('PlainRenderer writes one prefixed string per chunk, stderr apart, the partial line at the end of the run', () => {
    const out: string[] = [];
    const err: string[] = [];
    const r = new PlainRenderer({ write: (t: string) => out.push(t) }, { write: (t: string) => err.push(t) });
    r.snapshot({ runs: [{ agent: { name: 'web-1' } }, { agent: { name: 'db-10' } }] } as unknown as Job);
    r.output('web-1', 'j_0', 'stdout', 'a\nb\nc');
    r.output('web-1', 'j_0', 'stderr', 'oops\n');
    r.output('web-1', 'j_0', 'stdout', 'd\n');
    expect(out).to.deep.equal(['web-1: a\nweb-1: b\n', 'web-1: cd\n']);
    expect(err).to.deep.equal(['web-1: oops\n']);
  });
});

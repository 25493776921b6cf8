import { expect } from 'chai';
import fc from 'fast-check';
import { cutAt } from '../../helpers/bytes.js';
import { ByteLineBuffer } from '../../../src/ui/lines.js';
import type { RunBrief } from '../../../src/protocol/events.js';
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

describe('ByteLineBuffer.prefixed (pure)', () => {
  it('prints exactly what line-by-line splitting printed, for any chunks, cuts, prefixes and line endings', () => {
    const text = fc.string({ unit: fc.constantFrom('a', 'é', '\n', '\r', '\r\n', ' ', '😀'), maxLength: 60 });
    fc.assert(
      fc.property(
        fc.array(text, { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.constantFrom('', 'web-1: ', 'x:  '),
        (chunks, cuts, prefix) => {
          const lines = new ByteLineBuffer();
          const printed: Buffer[] = [];
          for (const part of cutAt(Buffer.from(chunks.join('')), cuts)) {
            const out = lines.prefixed('k', part, Buffer.from(prefix));
            if (out) printed.push(Buffer.from(out));
          }
          const rest = lines.flush('k')?.toString() ?? '';
          expect({ printed: Buffer.concat(printed).toString(), rest }).to.deep.equal(reference(chunks, prefix));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('keeps keys apart, returns nothing until a line is complete, and passes bytes that are not UTF-8 through', () => {
    const lines = new ByteLineBuffer();
    const p = (key: string, data: string | Buffer, prefix: string) =>
      lines.prefixed(key, Buffer.from(data), Buffer.from(prefix))?.toString('latin1');
    expect(p('a', 'one', 'A: ')).to.equal(undefined);
    expect(p('b', 'two\r\nthree', 'B: ')).to.equal('B: two\n');
    expect(p('a', ' more\n\nnext', 'A: ')).to.equal('A: one more\nA: \n');
    expect(p('c', Buffer.from([0xff, 0x0d, 0x0a, 0xfe, 0x0a]), '')).to.equal('\xff\n\xfe\n');
    expect([lines.flush('a')?.toString(), lines.flush('b')?.toString(), lines.flush('c')]).to.deep.equal([
      'next',
      'three',
      undefined,
    ]);
  });

  it('PlainRenderer writes one prefixed buffer per chunk, stderr apart, the partial line at the end of the run', () => {
    const out: string[] = [];
    const err: string[] = [];
    const r = new PlainRenderer(
      { write: (t: string | Uint8Array) => out.push(Buffer.from(t).toString()) },
      { write: (t: string | Uint8Array) => err.push(Buffer.from(t).toString()) },
    );
    r.snapshot({ runs: [{ agent: { name: 'web-1' } }, { agent: { name: 'db-10' } }] } as unknown as Job);
    r.output('web-1', 'j_0', 'stdout', 'a\nb\nc');
    r.output('web-1', 'j_0', 'stderr', 'oops\n');
    r.outputBytes('web-1', 'j_0', 'stdout', Buffer.from('d\ne'));
    r.runStatus({ id: 'j_0', agent: { name: 'web-1' }, status: 'succeeded' } as unknown as RunBrief);
    expect(out).to.deep.equal(['web-1: a\nweb-1: b\n', 'web-1: cd\n', 'web-1: e\n']);
    expect(err).to.deep.equal(['web-1: oops\n']);
  });
});

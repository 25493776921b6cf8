import { expect } from 'chai';
import fc from 'fast-check';
import { cutAt } from '../../helpers/bytes.js';
import { charBoundary, wholeCharsLength } from '../../../src/lib/utf8.js';

/** What the agent sends for those reads: an incomplete character at the end of a read waits for the next one. */
function chunks(parts: Buffer[]): Buffer[] {
  const sent: Buffer[] = [];
  let held: Buffer | undefined;
  for (const read of parts) {
    const data = held ? Buffer.concat([held, read]) : read;
    const whole = wholeCharsLength(data);
    held = whole < data.length ? data.subarray(whole) : undefined;
    sent.push(data.subarray(0, whole));
  }
  if (held) sent.push(held);
  return sent;
}

describe('UTF-8 boundaries (pure)', () => {
  it('text cut anywhere is sent in chunks that each decode to whole characters, and together to the text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), fc.array(fc.nat(), { maxLength: 30 }), (s, cuts) => {
        const bytes = Buffer.from(s);
        const sent = chunks(cutAt(bytes, cuts));
        expect(sent.map((c) => c.toString()).join('')).to.equal(s);
        expect(Buffer.concat(sent).equals(bytes)).to.equal(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('bytes that are not UTF-8 go through unchanged, and nothing is held back for ever', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.array(fc.nat(), { maxLength: 30 }), (raw, cuts) => {
        const bytes = Buffer.from(raw);
        const sent = chunks(cutAt(bytes, cuts));
        expect(Buffer.concat(sent).equals(bytes)).to.equal(true);
        // At most 3 bytes wait for the next read.
        for (const read of cutAt(bytes, cuts)) expect(read.length - wholeCharsLength(read)).to.be.within(0, 3);
      }),
      { numRuns: 2000 },
    );
  });

  it('holds back exactly an incomplete character at the end', () => {
    const euro = Buffer.from('€'); // e2 82 ac
    const grin = Buffer.from('😀'); // f0 9f 98 80
    expect(wholeCharsLength(Buffer.concat([Buffer.from('a'), euro.subarray(0, 2)]))).to.equal(1);
    expect(wholeCharsLength(Buffer.concat([Buffer.from('a'), euro]))).to.equal(4);
    expect(wholeCharsLength(grin.subarray(0, 3))).to.equal(0);
    expect(wholeCharsLength(grin)).to.equal(4);
    expect(wholeCharsLength(Buffer.from([0xff]))).to.equal(1);
    expect(wholeCharsLength(Buffer.alloc(0))).to.equal(0);
  });

  it('charBoundary never cuts a character in two', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: 1, maxLength: 100 }), fc.nat(), (s, n) => {
        const bytes = Buffer.from(s);
        const at = 1 + (n % bytes.length);
        const cut = charBoundary(bytes, at);
        expect(cut).to.be.within(Math.max(0, at - 3), at);
        expect(bytes.subarray(0, cut).toString() + bytes.subarray(cut).toString()).to.equal(s);
      }),
      { numRuns: 2000 },
    );
  });
});

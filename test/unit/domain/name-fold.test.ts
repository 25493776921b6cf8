import { expect } from 'chai';
import fc from 'fast-check';
import { foldNames, foldNamesList } from '../../../src/domain/name-fold.js';

/** Expands what foldNames wrote back into names, to check that folding loses and invents nothing. */
function expand(folded: string[]): string[] {
  return folded.flatMap((pattern) => {
    const m = /^(.*)\[([0-9,-]+)\](.*)$/.exec(pattern);
    if (!m) return [pattern];
    const [, prefix = '', list = '', suffix = ''] = m;
    return list.split(',').flatMap((part) => {
      const [a = '', b = a] = part.split('-');
      const width = a.startsWith('0') && a.length > 1 ? a.length : 0;
      const out: string[] = [];
      for (let n = Number(a); n <= Number(b); n++) out.push(`${prefix}${String(n).padStart(width, '0')}${suffix}`);
      return out;
    });
  });
}

describe('domain/name-fold', () => {
  it('folds numeric suffixes into ranges', () => {
    expect(foldNames(['web-1', 'web-2', 'web-3', 'web-7'])).to.equal('web-[1-3,7]');
    expect(foldNames(['web-7', 'web-3', 'web-1', 'web-2', 'web-8', 'web-9'])).to.equal('web-[1-3,7-9]');
    expect(foldNames(['web-1', 'web-2'])).to.equal('web-[1,2]');
    expect(foldNames(['web-1'])).to.equal('web-1');
  });

  it('keeps zero padding (node[01-12]) and puts unpadded numbers of that width with it', () => {
    const names = Array.from({ length: 12 }, (_, i) => `node${String(i + 1).padStart(2, '0')}`);
    expect(foldNames(names)).to.equal('node[01-12]');
    expect(foldNames(['node1', 'node01', 'node02'])).to.equal('node1,node[01,02]');
  });

  it('folds the last run of digits when there are several, and keeps what follows it', () => {
    expect(foldNames(['rack1-node1', 'rack1-node2', 'rack2-node1'])).to.equal('rack1-node[1,2],rack2-node1');
    expect(foldNames(['web1.eu', 'web2.eu', 'web3.us'])).to.equal('web[1,2].eu,web3.us');
  });

  it('lists names without digits as they are, sorted with the rest, without repeats', () => {
    expect(foldNames(['lb', 'db-1', 'web-2', 'web-1', 'lb'])).to.equal('db-1,lb,web-[1,2]');
    expect(foldNamesList([])).to.deep.equal([]);
  });

  it('does not fold numbers too long to be exact', () => {
    expect(foldNames(['h12345678901234567', 'h12345678901234568'])).to.equal('h12345678901234567,h12345678901234568');
  });

  it('loses and invents no name (property)', () => {
    const name = fc
      .tuple(fc.constantFrom('web-', 'db', 'node', 'a.b-'), fc.integer({ min: 0, max: 40 }), fc.boolean())
      .map(([p, n, pad]) => `${p}${pad ? String(n).padStart(3, '0') : n}`);
    fc.assert(
      fc.property(fc.array(name, { maxLength: 60 }), (names) => {
        const back = expand(foldNamesList(names)).sort();
        expect(back).to.deep.equal([...new Set(names)].sort());
      }),
      { numRuns: 500 },
    );
  });
});

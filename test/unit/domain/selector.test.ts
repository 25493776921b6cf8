import { expect } from 'chai';
import { matches, MAX_WILDCARD_TERMS, parseSelector, select, SelectorError } from '../../../src/domain/selector.js';

const agents = [
  { id: 'id-1', name: 'web-1', labels: { role: 'web', dc: 'par1' } },
  { id: 'id-2', name: 'web-2', labels: { role: 'web', dc: 'fra1' } },
  { id: 'id-3', name: 'web-3', labels: { role: 'web', dc: 'par1' } },
  { id: 'id-4', name: 'db-1', labels: { role: 'db', dc: 'par1' } },
];
const names = (exprs: string[]) => select(parseSelector(exprs), agents).map((a) => a.name);

describe('selectors', () => {
  it('matches name globs', () => {
    expect(names(['web-*'])).to.deep.equal(['web-1', 'web-2', 'web-3']);
    expect(names(['web-?'])).to.deep.equal(['web-1', 'web-2', 'web-3']);
    expect(names(['db-1'])).to.deep.equal(['db-1']);
  });

  it('matches an agent id', () => {
    expect(names(['id-4'])).to.deep.equal(['db-1']);
  });

  it('ORs comma-separated terms and ANDs repeated -t', () => {
    expect(names(['web-1,db-1'])).to.deep.equal(['web-1', 'db-1']);
    expect(names(['role=web', 'dc=par1'])).to.deep.equal(['web-1', 'web-3']);
  });

  it('matches labels with glob values and negation', () => {
    expect(names(['dc=par*'])).to.deep.equal(['web-1', 'web-3', 'db-1']);
    expect(names(['role=web', '!web-3'])).to.deep.equal(['web-1', 'web-2']);
    expect(names(['!role=web'])).to.deep.equal(['db-1']);
  });

  it('treats regex characters in globs literally', () => {
    const sel = parseSelector(['web.1']);
    expect(matches(sel, { id: 'x', name: 'web.1', labels: {} })).to.equal(true);
    expect(matches(sel, { id: 'x', name: 'webx1', labels: {} })).to.equal(false);
  });

  it('an empty selector (--all) matches everything', () => {
    expect(names([])).to.have.length(4);
  });

  it('a missing label does not match, but its negation does', () => {
    expect(names(['zone=a'])).to.deep.equal([]);
    expect(names(['!zone=a'])).to.have.length(4);
  });

  for (const bad of ['', 'web-1,', '!', '=web', 'role=', 'a=b=c', 'web 1', 'x/y']) {
    it(`refuses ${JSON.stringify(bad)}`, () => {
      expect(() => parseSelector([bad])).to.throw(SelectorError);
    });
  }

  it('bounds the terms with wildcards in one selector, over every -t, but not lists of names', () => {
    const globs = Array.from({ length: MAX_WILDCARD_TERMS }, (_, i) => `*-*a${i}*`);
    expect(() => parseSelector([globs.slice(0, 40).join(','), globs.slice(40).join(',')])).not.to.throw();
    expect(() => parseSelector([globs.join(','), 'role=w?b'])).to.throw(SelectorError, /at most 64/);
    const hosts = Array.from({ length: 2000 }, (_, i) => `web-${i}`).join(',');
    expect(names([hosts])).to.deep.equal(['web-1', 'web-2', 'web-3']);
  });
});

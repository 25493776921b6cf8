import { expect } from 'chai';
import { parseLimit, resolveConcurrency, resolveMaxErrors } from '../../../src/domain/limits.js';

describe('rollout limits', () => {
  it('parses counts and percentages', () => {
    expect(parseLimit('10', '--max-concurrency')).to.equal(10);
    expect(parseLimit('25%', '--max-concurrency')).to.equal('25%');
    expect(parseLimit('0', '--max-errors')).to.equal(0);
  });

  for (const bad of ['', '-1', '1.5', '101%', 'ten', '5 %']) {
    it(`refuses ${JSON.stringify(bad)}`, () => {
      expect(() => parseLimit(bad, '--max-errors')).to.throw(RangeError, /--max-errors/);
    });
  }

  it('a concurrency share rounds up and is at least one', () => {
    expect(resolveConcurrency('25%', 6)).to.equal(2);
    expect(resolveConcurrency('1%', 6)).to.equal(1);
    expect(resolveConcurrency(0, 6)).to.equal(1);
    expect(resolveConcurrency(undefined, 6)).to.equal(undefined);
  });

  it('an error share rounds down', () => {
    expect(resolveMaxErrors('25%', 6)).to.equal(1);
    expect(resolveMaxErrors('0%', 6)).to.equal(0);
    expect(resolveMaxErrors(3, 6)).to.equal(3);
  });
});

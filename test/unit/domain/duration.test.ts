import { expect } from 'chai';
import { formatDuration, parseDuration } from '../../../src/domain/duration.js';

describe('durations', () => {
  const cases: Array<[string, number]> = [
    ['500ms', 500],
    ['1s', 1000],
    ['1.5s', 1500],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['2d', 172_800_000],
    ['10', 10_000],
  ];
  for (const [text, ms] of cases) it(`parses ${text}`, () => expect(parseDuration(text)).to.equal(ms));

  for (const bad of ['', 'abc', '5x', '-1s', '1s2', '0s', 's']) {
    it(`refuses ${JSON.stringify(bad)}`, () =>
      expect(() => parseDuration(bad)).to.throw(RangeError, /invalid duration/));
  }

  it('formats for people', () => {
    expect(formatDuration(12)).to.equal('12ms');
    expect(formatDuration(1500)).to.equal('1.5s');
    expect(formatDuration(125_000)).to.equal('2m5s');
    expect(formatDuration(3_600_000)).to.equal('1h');
  });
});

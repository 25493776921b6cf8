import { expect } from 'chai';
import { formatDuration, parseDuration, parseTimeOrAgo } from '../../../src/domain/duration.js';

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

  it('a time as a date or as how long ago (jobs prune --before); bare numbers and words refused', () => {
    const now = Date.parse('2026-06-01T12:00:00Z');
    expect(parseTimeOrAgo('90d', now, '--before')).to.equal('2026-03-03T12:00:00.000Z');
    expect(parseTimeOrAgo('1h30m', now, '--before')).to.equal('2026-06-01T10:30:00.000Z');
    expect(parseTimeOrAgo('2026-01-01', now, '--before')).to.equal('2026-01-01T00:00:00.000Z');
    expect(parseTimeOrAgo(' 2026-01-01T06:00:00+02:00 ', now, '--before')).to.equal('2026-01-01T04:00:00.000Z');
    expect(() => parseTimeOrAgo('30', now, '--before')).to.throw(RangeError, /--before "30": a number needs a unit/);
    expect(() => parseTimeOrAgo('30days', now, '--before')).to.throw(RangeError, /--before/);
    expect(() => parseTimeOrAgo('last week', now, '--before')).to.throw(RangeError, /a date \(e\.g\. 2026-01-01\)/);
  });
});

import { expect } from 'chai';
import { jobRequestCheck } from '../../../src/protocol/events.js';
import { parse, PayloadError } from '../../../src/protocol/validate.js';

/** `canary` and `batchWaitMs` of a job request (docs/protocol.md §2.3.1). */
describe('job request: canary and batchWaitMs (protocol/events.ts)', () => {
  const base = { command: 'true', target: ['*'] };

  it('takes a canary count and a batch wait with a window', () => {
    const request = parse(jobRequestCheck, { ...base, canary: 2, maxConcurrency: 5, batchWaitMs: 1000 });
    expect(request).to.include({ canary: 2, maxConcurrency: 5, batchWaitMs: 1000 });
  });

  for (const [what, extra] of [
    ['canary 0', { canary: 0 }],
    ['a fractional canary', { canary: 1.5 }],
    ['a canary as text', { canary: '2' }],
    ['batchWaitMs 0', { maxConcurrency: 2, batchWaitMs: 0 }],
    ['a negative batchWaitMs', { maxConcurrency: 2, batchWaitMs: -5 }],
  ] as const) {
    it(`refuses ${what}, naming the field`, () => {
      expect(() => parse(jobRequestCheck, { ...base, ...extra })).to.throw(PayloadError, /canary|batchWaitMs/);
    });
  }

  it('refuses batchWaitMs without maxConcurrency: there is no batch to space', () => {
    expect(() => parse(jobRequestCheck, { ...base, batchWaitMs: 1000 })).to.throw(
      PayloadError,
      /batchWaitMs needs maxConcurrency/,
    );
  });
});

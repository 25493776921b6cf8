import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import { isFatal, keepServing } from '../../../src/lib/last-resort.js';
import type { Logger } from '../../../src/lib/log.js';

describe('keepServing (the last resort of controller serve)', () => {
  const setup = () => {
    const lines: Array<{ msg: string; error?: unknown }> = [];
    const log: Logger = {
      debug() {},
      info() {},
      warn() {},
      error: (msg, fields) => lines.push({ msg, error: fields?.error }),
    };
    const proc = new EventEmitter();
    const fatal: unknown[] = [];
    const uninstall = keepServing(log, (err) => fatal.push(err), proc);
    return { lines, proc, fatal, uninstall };
  };

  it('logs an unhandled rejection and an ordinary uncaught exception, and keeps serving', () => {
    const { lines, proc, fatal } = setup();
    proc.emit('unhandledRejection', new RangeError('Invalid string length'));
    proc.emit('uncaughtException', new TypeError('x is undefined'));
    proc.emit('unhandledRejection', 'not even an Error');
    expect(fatal).to.deep.equal([]);
    expect(lines.map((l) => l.msg)).to.deep.equal([
      'unhandled promise rejection (a bug): that work failed, still serving',
      'uncaught exception (a bug): that work failed, still serving',
      'unhandled promise rejection (a bug): that work failed, still serving',
    ]);
    expect(String(lines[0]?.error)).to.match(/RangeError: Invalid string length/);
  });

  it('calls fatal for a broken assertion, and uninstalls', () => {
    const { lines, proc, fatal, uninstall } = setup();
    const broken = Object.assign(new Error('invariant'), { code: 'ERR_ASSERTION' });
    proc.emit('uncaughtException', broken);
    expect(fatal).to.deep.equal([broken]);
    expect(lines.at(-1)?.msg).to.equal('fatal error: shutting down');
    uninstall();
    expect(proc.listenerCount('uncaughtException') + proc.listenerCount('unhandledRejection')).to.equal(0);
    expect(isFatal({ code: 'ERR_INTERNAL_ASSERTION' })).to.equal(true);
    expect(isFatal(new RangeError('Invalid string length'))).to.equal(false);
    expect(isFatal(null)).to.equal(false);
  });
});

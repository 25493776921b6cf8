import { expect } from 'chai';
import type { RunningController } from '../../src/controller/index.js';
import {
  DUMMY_HASH,
  hashPassword,
  KDF_CONCURRENCY,
  verifyPassword,
} from '../../src/controller/application/passwords.js';
import { LOGIN_IN_FLIGHT_PER_ADDRESS } from '../../src/controller/application/login-guard.js';
import { ADMIN_PASSWORD, Fixtures, waitFor } from '../helpers/fixtures.js';
import { attempt, statuses, type Answer } from '../helpers/login.js';

const ADMIN = { name: 'admin', role: 'admin' as const };

/**
 * `POST /token` (README, Security): failed logins are counted per user name (10 a minute) and per client address (50 a
 * minute). Past either limit every attempt is refused with 429 and Retry-After until the window ends, even with the
 * right password; successful logins do not count. Attempts are counted before the password is checked, and only a few
 * per address are checked at once.
 */
describe('POST /token brute force (real server on port 0)', function () {
  const fx = new Fixtures();
  let controller: RunningController;

  beforeEach(async () => {
    controller = await fx.controller();
    await controller.auth.addUser(ADMIN, 'olga', 'operator', 'olga-password-1');
  });
  afterEach(() => fx.cleanup());

  it('the 11th wrong password for a user within a minute gets 429 + Retry-After; the right one too', async () => {
    const answers: Answer[] = [];
    for (let i = 0; i < 11; i++) answers.push(await attempt(controller.url, 'admin', `wrong-${i}`));
    expect(statuses(answers)).to.deep.equal([...Array(10).fill(401), 429]);
    const refused = answers[10];
    expect(refused?.error).to.equal('too_many_requests');
    expect(refused?.retryAfter).to.be.within(1, 60);
    const right = await attempt(controller.url, 'admin', ADMIN_PASSWORD);
    expect(right.status).to.equal(429);
    expect(right.retryAfter).to.be.within(1, 60);
    // the same user name is refused from another address too (the per-user-name limit)
    expect((await attempt(controller.url, 'admin', ADMIN_PASSWORD, '127.0.0.2')).status).to.equal(429);
    // another user from the first address is not (the address has 10 failures, below its 50)
    expect((await attempt(controller.url, 'olga', 'olga-password-1')).status).to.equal(200);
  });

  it('parallel guesses get no more tries than sequential ones: exactly 10 of 30 are checked', async () => {
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) => attempt(controller.url, 'admin', `parallel-wrong-${i}`)),
    );
    expect(statuses(answers).filter((s) => s === 401)).to.have.length(10);
    expect(statuses(answers).filter((s) => s === 429)).to.have.length(20);
    expect((await attempt(controller.url, 'admin', ADMIN_PASSWORD)).status).to.equal(429);
  });

  it('an address that failed 50 times is refused for every user name, right password or not; others are not', async () => {
    // 50 failures spread over 10 user names: each stays at 5, below its own limit
    const names = Array.from({ length: 10 }, (_, i) => `guess-${i}`);
    const failures = await Promise.all(
      names.flatMap((name) => Array.from({ length: 5 }, () => attempt(controller.url, name, 'wrong'))),
    );
    expect(statuses(failures).every((s) => s === 401)).to.equal(true);
    const blocked = await attempt(controller.url, 'olga', 'olga-password-1');
    expect(blocked.status).to.equal(429);
    expect(blocked.retryAfter).to.be.within(1, 60);
    expect((await attempt(controller.url, 'new-name', 'wrong')).status).to.equal(429);
    // another address is not limited, and olga (who never failed) logs in from it
    expect((await attempt(controller.url, 'olga', 'olga-password-1', '127.0.0.3')).status).to.equal(200);
  });

  it('successful logins do not count: a user who keeps logging in is never limited', async () => {
    for (let i = 0; i < 9; i++) expect((await attempt(controller.url, 'olga', 'wrong')).status).to.equal(401);
    for (let i = 0; i < 15; i++) {
      expect((await attempt(controller.url, 'olga', 'olga-password-1')).status, `login ${i}`).to.equal(200);
    }
  });

  it('300 parallel failed logins with distinct names from one address: 250 refused before scrypt, few in flight', async () => {
    // Issue #20 row 4: counted after scrypt, none of the 300 was refused and scrypt filled the thread pool.
    const spray = Promise.all(
      Array.from({ length: 300 }, (_, i) => attempt(controller.url, `spray-${i}`, 'wrong', '127.0.0.4')),
    );
    const legitimate = attempt(controller.url, 'olga', 'olga-password-1', '127.0.0.5');
    const answers = statuses(await spray);
    expect(answers.filter((s) => s === 401)).to.have.length(50);
    expect(answers.filter((s) => s === 429)).to.have.length(250);
    expect((await legitimate).status).to.equal(200);
    const logins = controller.logins();
    expect(logins.peakInFlightPerAddress).to.be.within(1, LOGIN_IN_FLIGHT_PER_ADDRESS);
    expect(logins.peakKdfInFlight).to.be.within(1, KDF_CONCURRENCY);
  });

  it('once the window is over, the right password works again', async () => {
    const short = await fx.controller({ loginLimits: { perAddress: 100, perUser: 2, windowMs: 1500 } });
    expect(statuses([await attempt(short.url, 'admin', 'x1'), await attempt(short.url, 'admin', 'x2')])).to.deep.equal([
      401, 401,
    ]);
    const refused = await attempt(short.url, 'admin', ADMIN_PASSWORD);
    expect(refused.status).to.equal(429);
    expect(refused.retryAfter).to.be.within(1, 2);
    await waitFor(
      async () => (await attempt(short.url, 'admin', ADMIN_PASSWORD)).status === 200,
      'the window to end',
      10_000,
    );
  });
});

/** Timing must not tell whether a user exists: an unknown name is checked against a hash of the same cost. */
describe('Password checks', () => {
  it('the dummy hash used for unknown users has the same scrypt cost and sizes as a real one', async () => {
    const real = (await hashPassword('some-password')).split('$');
    const dummy = DUMMY_HASH.split('$');
    expect(dummy.slice(0, 4)).to.deep.equal(real.slice(0, 4));
    expect(Buffer.from(dummy[4] ?? '', 'base64').length).to.equal(Buffer.from(real[4] ?? '', 'base64').length);
    expect(Buffer.from(dummy[5] ?? '', 'base64').length).to.equal(Buffer.from(real[5] ?? '', 'base64').length);
    expect(await verifyPassword('', DUMMY_HASH)).to.equal(false);
    expect(await verifyPassword('some-password', DUMMY_HASH)).to.equal(false);
  });

  it('an unknown user and a wrong password get the same answer', async () => {
    const fx = new Fixtures();
    try {
      const controller = await fx.controller();
      const unknown = await attempt(controller.url, 'nobody', 'whatever-1');
      const wrong = await attempt(controller.url, 'admin', 'whatever-1');
      expect(unknown).to.deep.equal(wrong);
      expect(unknown).to.deep.equal({ status: 401, retryAfter: undefined, error: 'invalid_grant' });
    } finally {
      await fx.cleanup();
    }
  });

  it('verifyPassword accepts only the right password and refuses malformed hashes', async () => {
    const hash = await hashPassword('right-password');
    expect(await verifyPassword('right-password', hash)).to.equal(true);
    expect(await verifyPassword('right-passworD', hash)).to.equal(false);
    for (const bad of ['', 'plain', 'scrypt$16384$8$1$$', `bcrypt$${hash.slice(7)}`]) {
      expect(await verifyPassword('right-password', bad), bad).to.equal(false);
    }
  });
});

import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import type { RunningController } from '../../src/controller/index.js';
import type { LoginCounters } from '../../src/controller/application/ports.js';
import { RedisLoginCounters } from '../../src/controller/infrastructure/cluster/redis-login-counters.js';
import { MemoryLoginCounters } from '../../src/controller/infrastructure/login-counters.js';
import { redisClient } from '../../src/controller/infrastructure/store/redis-store.js';
import { ADMIN_PASSWORD, Fixtures } from '../helpers/fixtures.js';
import { attempt, statuses } from '../helpers/login.js';
import { RedisServer } from '../helpers/redis.js';

const ADMIN = { name: 'admin', role: 'admin' as const };

/**
 * Issue #21 item 4: with `--redis`, each controller counted failed logins alone, so N controllers gave N times the
 * budget. The counters are now in Redis: the README's 10 per name and 50 per address a minute hold for the cluster.
 */
describe('login limits across a cluster (two controllers, one real Redis)', function () {
  this.timeout(60_000);
  const fx = new Fixtures();
  let redis: RedisServer;
  let a: RunningController;
  let b: RunningController;
  before(async () => {
    redis = await RedisServer.start();
  });
  after(() => redis.stop());
  beforeEach(async () => {
    const redisPrefix = `t${randomBytes(4).toString('hex')}:`;
    a = await fx.controller({ redis: redis.url, redisPrefix });
    b = await fx.controller({ redis: redis.url, redisPrefix });
    await a.auth.addUser(ADMIN, 'olga', 'operator', 'olga-password-1');
  });
  afterEach(() => fx.cleanup());

  it('30 parallel guesses at one name, half on each controller: 10 are checked in all, 20 get 429', async () => {
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) => attempt((i % 2 ? a : b).url, 'admin', `wrong-${i}`)),
    );
    expect(statuses(answers).filter((s) => s === 401)).to.have.length(10);
    expect(statuses(answers).filter((s) => s === 429)).to.have.length(20);
    for (const controller of [a, b]) {
      const right = await attempt(controller.url, 'admin', ADMIN_PASSWORD, '127.0.0.2');
      expect(right.status).to.equal(429);
      expect(right.retryAfter).to.be.within(1, 60);
    }
  });

  it('50 failures of one address spread over both controllers block it on both; successes on one do not count', async () => {
    for (let i = 0; i < 9; i++) expect((await attempt(a.url, 'olga', 'wrong', '127.0.0.7')).status).to.equal(401);
    for (let i = 0; i < 3; i++)
      expect((await attempt(b.url, 'olga', 'olga-password-1', '127.0.0.7')).status).to.equal(200);
    // 9 failures and 3 successes: one failure left for olga, on either controller
    expect((await attempt(b.url, 'olga', 'wrong', '127.0.0.7')).status).to.equal(401);
    expect((await attempt(a.url, 'olga', 'olga-password-1', '127.0.0.7')).status).to.equal(429);

    const names = Array.from({ length: 10 }, (_, i) => `guess-${i}`);
    const failures = await Promise.all(
      names.flatMap((name, i) =>
        Array.from({ length: 4 }, (_, j) => attempt(((i + j) % 2 ? a : b).url, name, 'wrong', '127.0.0.6')),
      ),
    );
    expect(statuses(failures).every((s) => s === 401)).to.equal(true);
    // 40 failures so far from 127.0.0.6; 10 more on B alone reach 50
    for (let i = 0; i < 10; i++) expect((await attempt(b.url, `more-${i}`, 'wrong', '127.0.0.6')).status).to.equal(401);
    for (const controller of [a, b]) {
      expect((await attempt(controller.url, 'new-name', 'wrong', '127.0.0.6')).status).to.equal(429);
    }
    expect((await attempt(a.url, 'admin', ADMIN_PASSWORD, '127.0.0.8')).status).to.equal(200);
  });
});

/** The same contract for both LoginCounters: the memory one (one controller) and the Redis one (a cluster). */
describe('LoginCounters contract', function () {
  let redis: RedisServer;
  const clients: Array<{ disconnect(): void }> = [];
  before(async () => {
    redis = await RedisServer.start();
  });
  after(async () => {
    for (const client of clients) client.disconnect();
    await redis.stop();
  });

  const implementations: Array<[string, () => Promise<LoginCounters>]> = [
    ['memory', async () => new MemoryLoginCounters()],
    [
      'redis',
      async () => {
        const client = redisClient(redis.url);
        clients.push(client);
        await client.connect();
        return new RedisLoginCounters(client, `c${randomBytes(4).toString('hex')}:`);
      },
    ],
  ];

  for (const [kind, open] of implementations) {
    describe(kind, () => {
      it('counts on every key up to its limit; past it refuses with the time left and counts nothing', async () => {
        const counters = await open();
        const keys = [
          { key: 'name:x', limit: 2 },
          { key: 'address:a', limit: 3 },
        ];
        expect(await counters.take(keys, 60_000)).to.equal(0);
        expect(await counters.take(keys, 60_000)).to.equal(0);
        expect(await counters.take(keys, 60_000)).to.be.within(58_000, 60_000);
        // the refused take counted nothing on the address: one more fits there
        expect(await counters.take([{ key: 'address:a', limit: 3 }], 60_000)).to.equal(0);
        expect(await counters.take([{ key: 'address:a', limit: 3 }], 60_000)).to.be.above(0);
        expect(await counters.take([{ key: 'name:y', limit: 2 }], 60_000)).to.equal(0);
      });

      it('a refund gives one count back; a window that ended starts again from zero', async () => {
        const counters = await open();
        const key = [{ key: 'name:z', limit: 1 }];
        expect(await counters.take(key, 300)).to.equal(0);
        expect(await counters.take(key, 300)).to.be.above(0);
        await counters.refund(['name:z', 'name:never-taken']);
        expect(await counters.take(key, 300)).to.equal(0);
        expect(await counters.take([{ key: 'name:never-taken', limit: 1 }], 300)).to.equal(0);
        await new Promise((r) => setTimeout(r, 400));
        expect(await counters.take(key, 300)).to.equal(0);
      });
    });
  }
});

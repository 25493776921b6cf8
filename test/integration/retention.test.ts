import { expect } from 'chai';
import { text } from 'node:stream/consumers';
import { Redis } from 'ioredis';
import { DEFAULT_RETAIN_DAYS } from '../../src/controller/application/jobs/retention.js';
import type { RunningController } from '../../src/controller/index.js';
import { Fixtures, waitFor } from '../helpers/fixtures.js';
import { DAY_MS, seedJobs } from '../helpers/history.js';
import { storeKinds } from '../helpers/store-kinds.js';

/** Default retention (issue 26): old history goes in the background, in batches; what should stay stays. */
for (const kind of storeKinds()) {
  describe(`retention: ${kind.name}`, function () {
    this.timeout(120_000);
    const fx = new Fixtures();
    before(() => kind.start());
    after(() => kind.stop());
    afterEach(() => fx.cleanup());

    /** A store with `old` finished jobs 40 days old, 3 finished 10 days old and 1 unfinished 40 days old. */
    async function history(old: number) {
      const place = await kind.place(fx);
      const store = await kind.open(place);
      const expired = await seedJobs(store, old, 40 * DAY_MS);
      const recent = await seedJobs(store, 3, 10 * DAY_MS, 'succeeded', 'recent output');
      // Its timeout is far off: it stays unfinished (its agent is not there to lose it within the test).
      const [unfinished] = await seedJobs(store, 1, 40 * DAY_MS + 5000, 'running', 'out', (job) => {
        job.timeoutMs = 100 * DAY_MS;
      });
      await store.close();
      return { place, expired, kept: [...recent, unfinished as string] };
    }

    /** The newest 50 jobs' ids, sorted (each listed job is read: a poll must not read the whole history). */
    const listed = async (c: RunningController) => (await c.jobs.list(50)).map((j) => j.id).sort();

    async function expectKept(c: RunningController, kept: string[]) {
      for (const id of kept) {
        const job = await c.jobs.get(id);
        expect(job.id).to.equal(id);
        const out = await text(await c.jobs.readOutput(id, `${id}_0`, 'stdout'));
        expect(out).to.equal(job.status === 'running' ? 'out' : 'recent output');
      }
    }

    it(`the default (${DEFAULT_RETAIN_DAYS} days) removes old finished jobs at start, keeps recent and unfinished`, async () => {
      const { place, expired, kept } = await history(450);
      const c = await fx.controller({ ...place, retainDays: DEFAULT_RETAIN_DAYS });
      await waitFor(async () => (await listed(c)).length === kept.length, 'the old jobs to be removed');
      expect(await listed(c)).to.deep.equal([...kept].sort());
      await expectKept(c, kept);
      const gone = await c.jobs.get(expired[0] as string).then(
        () => null,
        (err: Error) => err.message,
      );
      expect(gone).to.match(/no job/);
    });

    it('time injected: nothing before the limit, every finished job past it; --retain-days 0 keeps all', async () => {
      const { place, kept } = await history(0);
      const none = await fx.controller({ ...place, retainDays: 0 });
      expect(await none.jobs.prune({ now: Date.now() + 3650 * DAY_MS })).to.equal(0);
      await none.close();
      const c = await fx.controller({ ...place, retainDays: 30 });
      expect(await c.jobs.prune({ now: Date.now() + 19 * DAY_MS })).to.equal(0);
      expect(await c.jobs.prune({ now: Date.now() + 21 * DAY_MS, batch: 2 })).to.equal(3);
      expect(await listed(c)).to.deep.equal([kept[3]]);
    });

    it('a restart during pruning loses nothing that should stay, and the next start finishes it', async () => {
      const { place, expired, kept } = await history(1500);
      const first = await fx.controller({ ...place, retainDays: 30 });
      await waitFor(
        async () =>
          await first.jobs.get(expired[0] as string).then(
            () => false,
            () => true,
          ),
        'pruning to begin',
      );
      await first.close();
      const second = await fx.controller({ ...place, retainDays: 0 });
      await expectKept(second, kept);
      await second.close();
      const third = await fx.controller({ ...place, retainDays: 30 });
      // A loaded machine removes a few hundred jobs a second from a data dir: room for that.
      await waitFor(async () => (await listed(third)).length === kept.length, 'the rest to be removed', 50_000);
      await expectKept(third, kept);
      if (kind.name === 'redis') {
        const redis = new Redis(place.redis as string);
        const keys = await redis.keys(`${place.redisPrefix}out:*`);
        redis.disconnect();
        expect(keys.filter((k) => !kept.some((id) => k.includes(id)))).to.deep.equal([]);
      }
    });
  });
}

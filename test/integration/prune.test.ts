import { expect } from 'chai';
import { text } from 'node:stream/consumers';
import type { RunningController } from '../../src/controller/index.js';
import { Fixtures } from '../helpers/fixtures.js';
import { DAY_MS, seedJobs } from '../helpers/history.js';
import { storeKinds } from '../helpers/store-kinds.js';
import { http, userToken } from './support.js';

const ADMIN = { name: 'admin', role: 'admin' as const };
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

/** `POST /api/v1/jobs/prune` (`ogent jobs prune`, issue 26): admin only, audited, exactly the older finished jobs. */
for (const kind of storeKinds()) {
  describe(`jobs prune: ${kind.name}`, function () {
    this.timeout(120_000);
    const fx = new Fixtures();
    before(() => kind.start());
    after(() => kind.stop());
    afterEach(() => fx.cleanup());

    /**
     * A controller (no retention of its own) on 250 finished jobs 40 days old (more than one batch), 3 finished 10 days
     * old and 1 unfinished 40 days old.
     */
    async function history() {
      const place = await kind.place(fx);
      const store = await kind.open(place);
      const old = await seedJobs(store, 250, 40 * DAY_MS);
      const recent = await seedJobs(store, 3, 10 * DAY_MS, 'succeeded', 'recent output');
      const [unfinished] = await seedJobs(store, 1, 40 * DAY_MS + 5000, 'running', 'out', (job) => {
        job.timeoutMs = 100 * DAY_MS;
      });
      await store.close();
      const c = await fx.controller({ ...place, retainDays: 0 });
      return { c, place, old, kept: [...recent, unfinished as string], token: await fx.adminToken(c) };
    }

    const prune = (c: RunningController, token: string, body: unknown) =>
      http(c.url, '/api/v1/jobs/prune', {
        method: 'POST',
        token,
        type: 'application/json',
        body: JSON.stringify(body),
      });
    const exists = (c: RunningController, id: string) =>
      c.jobs.get(id).then(
        () => true,
        () => false,
      );
    const count = async (c: RunningController, ids: string[]) =>
      (await Promise.all(ids.map((id) => exists(c, id)))).filter(Boolean).length;

    it('a dry run counts and lists the older finished jobs, removes nothing, writes no audit entry', async () => {
      const { c, old, kept, token } = await history();
      const res = await prune(c, token, { before: ago(20 * DAY_MS), dryRun: true });
      expect(res.status, res.text).to.equal(200);
      expect(res.body).to.deep.equal({ removed: old.length, ids: old });
      expect(await count(c, [...old, ...kept])).to.equal(old.length + kept.length);
      expect(await c.audit.read(ADMIN, { action: 'jobs_prune' })).to.deep.equal([]);
    });

    it('removes exactly the finished jobs created before the date, with their output; audited', async () => {
      const { c, place, old, kept, token } = await history();
      const before = ago(20 * DAY_MS);
      const res = await prune(c, token, { before });
      expect(res.status, res.text).to.equal(200);
      expect(res.body).to.deep.equal({ removed: old.length, ids: old });
      expect(await count(c, old)).to.equal(0);
      expect(await count(c, kept)).to.equal(kept.length);
      for (const id of kept) {
        const out = await text(await c.jobs.readOutput(id, `${id}_0`, 'stdout'));
        expect(out).to.be.oneOf(['out', 'recent output']);
      }
      const [entry, ...more] = await c.audit.read(ADMIN, { action: 'jobs_prune' });
      expect(more).to.deep.equal([]);
      expect(entry).to.include({ actor: 'admin', action: 'jobs_prune', ok: true, detail: `before ${before}` });
      expect((await prune(c, token, { before })).body).to.deep.equal({ removed: 0, ids: [] });
      await c.close();
      const store = await kind.open(place);
      for (const id of [old[0], old.at(-1)] as string[]) {
        expect(await text(await store.output.openRead(id, `${id}_0`, 'stdout')), id).to.equal('');
      }
      await store.close();
    });

    it('viewer and operator are refused (403) and nothing goes', async () => {
      const { c, old } = await history();
      for (const role of ['viewer', 'operator'] as const) {
        const res = await prune(c, await userToken(c, `${role}-1`, role), { before: ago(DAY_MS) });
        expect(res.status, res.text).to.equal(403);
      }
      expect(await count(c, old)).to.equal(old.length);
    });

    it('bad input: a clear 400, nothing removed', async () => {
      const { c, old, token } = await history();
      const cases: Array<[unknown, RegExp]> = [
        [{}, /before/],
        [{ before: 'yesterday' }, /ISO 8601/],
        [{ before: new Date(Date.now() + DAY_MS).toISOString() }, /in the past/],
        [{ before: ago(DAY_MS), dryRun: 'yes' }, /dryRun/],
      ];
      for (const [body, message] of cases) {
        const res = await prune(c, token, body);
        expect(res.status, JSON.stringify(body)).to.equal(400);
        expect(res.body.message, JSON.stringify(body)).to.match(message);
      }
      expect(await count(c, old)).to.equal(old.length);
    });
  });
}

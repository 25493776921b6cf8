import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { text } from 'node:stream/consumers';
import type { Agent, Job, Run, User } from '../../src/domain/model.js';
import { newId } from '../../src/domain/ids.js';
import { summarize } from '../../src/domain/run-state.js';
import type { Store } from '../../src/controller/application/ports.js';
import { openLowdbStore } from '../../src/controller/infrastructure/store/lowdb-store.js';
import { openRedisStore } from '../../src/controller/infrastructure/store/redis-store.js';
import { Fixtures } from '../helpers/fixtures.js';
import { RedisServer } from '../helpers/redis.js';

/** Every store has the repositories of `Store`; enrollment tokens and the audit log where it has them yet. */
interface Kind {
  name: string;
  open(fx: Fixtures): Promise<Store>;
}

let redis: RedisServer | undefined;
const kinds: Kind[] = [
  { name: 'lowdb', open: async (fx) => openLowdbStore(await fx.tempDir()) },
  {
    name: 'redis',
    // A fresh key prefix per test: the same server, nothing shared between tests.
    open: async () => openRedisStore((redis as RedisServer).url, { prefix: `t${randomBytes(4).toString('hex')}:` }),
  },
];

const user = (name: string, role: User['role'] = 'operator'): User => ({
  name,
  role,
  passwordHash: `hash-${name}`,
  createdAt: '2026-01-01T00:00:00.000Z',
});
const agent = (name: string, status: Agent['status'] = 'online'): Agent => ({
  id: `id-${name}`,
  name,
  status,
  labels: { role: 'web' },
  info: null,
  lastSeen: '2026-01-01T00:00:00.000Z',
});
function job(status: Run['status'], at = Date.now()): Job {
  const id = newId('j', at);
  const runs: Run[] = [
    {
      id: `${id}_0`,
      agent: { id: 'id-a', name: 'a' },
      status,
      exitCode: status === 'succeeded' ? 0 : null,
      signal: null,
      stdout: 'out',
      stderr: '',
      seq: 1,
      startedAt: null,
      finishedAt: null,
      durationMs: null,
    },
  ];
  const done = status !== 'queued' && status !== 'running' && status !== 'dispatched';
  return {
    id,
    command: 'echo hi',
    executor: 'shell',
    target: ['a'],
    timeoutMs: 1000,
    status: done ? 'succeeded' : 'running',
    createdBy: 'admin',
    createdAt: new Date(at).toISOString(),
    finishedAt: done ? new Date(at).toISOString() : null,
    runs,
    summary: summarize(runs),
  };
}

for (const kind of kinds) {
  describe(`store contract: ${kind.name}`, () => {
    const fx = new Fixtures();
    let store: Store;
    before(async () => {
      if (kind.name === 'redis') redis ??= await RedisServer.start();
    });
    after(async () => {
      if (kind.name === 'redis') {
        await redis?.stop();
        redis = undefined;
      }
    });
    beforeEach(async () => {
      store = await kind.open(fx);
      fx.defer(() => store.close());
    });
    afterEach(() => fx.cleanup());

    it('users: put, get, list, replace, remove', async () => {
      expect(await store.users.get('alice')).to.equal(undefined);
      await store.users.put(user('alice'));
      await store.users.put(user('bob', 'viewer'));
      await store.users.put({ ...user('alice'), role: 'admin', tokenVersion: 2 });
      expect(await store.users.get('alice')).to.deep.equal({ ...user('alice'), role: 'admin', tokenVersion: 2 });
      const names = (await store.users.list()).map((u) => u.name).sort();
      expect(names).to.deep.equal(['alice', 'bob']);
      expect(await store.users.remove('bob')).to.equal(true);
      expect(await store.users.remove('bob')).to.equal(false);
      expect((await store.users.list()).map((u) => u.name)).to.deep.equal(['alice']);
    });

    it('users: create adds a name once; of 5 concurrent creates of one name, one wins and nothing is overwritten', async () => {
      expect(await store.users.create(user('carol'))).to.equal(true);
      expect(await store.users.create({ ...user('carol'), role: 'admin' })).to.equal(false);
      expect((await store.users.get('carol'))?.role).to.equal(user('carol').role);
      const tries = ['a', 'b', 'c', 'd', 'e'].map((hash) => ({ ...user('dave'), passwordHash: hash }));
      const won = await Promise.all(tries.map((u) => store.users.create(u)));
      expect(won.filter(Boolean)).to.have.length(1);
      expect((await store.users.get('dave'))?.passwordHash).to.equal(tries[won.indexOf(true)]?.passwordHash);
    });

    it('agents: put, get by id and by name, list, replace, remove', async () => {
      await store.agents.put(agent('a'));
      await store.agents.put(agent('b'));
      await store.agents.put({ ...agent('a'), status: 'offline' });
      expect(await store.agents.get('id-a')).to.deep.equal({ ...agent('a'), status: 'offline' });
      expect((await store.agents.getByName('b'))?.id).to.equal('id-b');
      expect(await store.agents.getByName('nope')).to.equal(undefined);
      expect((await store.agents.list()).map((a) => a.name).sort()).to.deep.equal(['a', 'b']);
      expect(await store.agents.remove('id-a')).to.equal(true);
      expect(await store.agents.remove('id-a')).to.equal(false);
      expect(await store.agents.getByName('a')).to.equal(undefined);
      expect((await store.agents.list()).map((a) => a.name)).to.deep.equal(['b']);
    });

    it('agents: keep pinned, admin and pending labels and facts', async () => {
      const kept: Agent = {
        ...agent('p'),
        labels: { role: 'web', tier: 'gold' },
        reportedLabels: { role: 'web' },
        adminLabels: { tier: 'gold' },
        pending: { labels: { role: 'db' }, facts: { hostname: 'db-1', os: null }, since: '2026-01-02T00:00:00.000Z' },
      };
      await store.agents.put(kept);
      expect(await store.agents.get('id-p')).to.deep.equal(kept);
      expect(await store.agents.getByName('p')).to.deep.equal(kept);
      expect((await store.agents.list()).find((a) => a.name === 'p')).to.deep.equal(kept);
    });

    it('agents: update creates, changes and skips; 20 concurrent updates of one agent all land', async () => {
      expect(await store.agents.update('u', () => undefined)).to.equal(undefined);
      expect(await store.agents.getByName('u')).to.equal(undefined);
      const created = await store.agents.update('u', (a) => a ?? { ...agent('u'), labels: {} });
      expect(created).to.deep.equal({ ...agent('u'), labels: {} });
      const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
      await Promise.all(
        keys.map((key) =>
          store.agents.update('u', (a) => a && { ...a, adminLabels: { ...a.adminLabels, [key]: 'v' } }),
        ),
      );
      const after = await store.agents.getByName('u');
      expect(Object.keys(after?.adminLabels ?? {}).sort()).to.deep.equal([...keys].sort());
      expect(await store.agents.update('u', () => undefined)).to.deep.equal(after);
      expect((await store.agents.list()).filter((a) => a.name === 'u')).to.have.length(1);
    });

    it('jobs: put and get, newest first with limit and before, the running ones', async () => {
      const t = Date.parse('2026-03-01T00:00:00Z');
      const jobs = [job('succeeded', t), job('running', t + 1000), job('failed', t + 2000), job('queued', t + 3000)];
      for (const j of jobs) await store.jobs.put(j);
      const ids = jobs.map((j) => j.id);
      expect(await store.jobs.get(ids[1] as string)).to.deep.equal(jobs[1]);
      expect(await store.jobs.get('j-none')).to.equal(undefined);
      expect((await store.jobs.list({ limit: 10 })).map((j) => j.id)).to.deep.equal([...ids].reverse());
      expect((await store.jobs.list({ limit: 2 })).map((j) => j.id)).to.deep.equal([ids[3], ids[2]]);
      expect((await store.jobs.list({ limit: 10, before: ids[2] })).map((j) => j.id)).to.deep.equal([ids[1], ids[0]]);
      expect((await store.jobs.listRunning()).map((j) => j.id).sort()).to.deep.equal([ids[1], ids[3]]);
      // a running job that finishes leaves the running set
      const finished = structuredClone(jobs[1] as Job);
      (finished.runs[0] as Run).status = 'succeeded';
      finished.status = 'succeeded';
      await store.jobs.put(finished);
      expect((await store.jobs.listRunning()).map((j) => j.id)).to.deep.equal([ids[3]]);
      expect((await store.jobs.get(finished.id))?.status).to.equal('succeeded');
    });

    it('jobs: coalesced puts of one job end with the last one stored', async () => {
      const j = job('running');
      const puts = [];
      for (let seq = 1; seq <= 50; seq++) {
        const copy = structuredClone(j);
        (copy.runs[0] as Run).seq = seq;
        puts.push(store.jobs.put(copy));
      }
      await Promise.all(puts);
      expect((await store.jobs.get(j.id))?.runs[0]?.seq).to.equal(50);
    });

    it('jobs: retention lists finished jobs past keep or older than a date, never running ones; remove', async () => {
      const t = Date.parse('2026-03-01T00:00:00Z');
      const old = job('succeeded', t);
      const oldRunning = job('running', t + 1);
      const mid = job('failed', t + 86_400_000);
      const recent = job('succeeded', t + 2 * 86_400_000);
      for (const j of [old, oldRunning, mid, recent]) await store.jobs.put(j);
      expect(await store.jobs.listExpired({ keep: 1, limit: 10 })).to.deep.equal([old.id, mid.id]);
      expect(await store.jobs.listExpired({ keep: 1, limit: 1 })).to.deep.equal([old.id]);
      const dayAndASecond = new Date(t + 86_401_000).toISOString();
      expect(await store.jobs.listExpired({ olderThan: dayAndASecond, limit: 10 })).to.deep.equal([old.id, mid.id]);
      expect(await store.jobs.listExpired({ olderThan: dayAndASecond, limit: 1 })).to.deep.equal([old.id]);
      expect(await store.jobs.listExpired({ keep: 5, limit: 10 })).to.deep.equal([]);
      expect(await store.jobs.listExpired({ keep: 3, olderThan: dayAndASecond, limit: 0 })).to.deep.equal([]);
      // A cursor (jobs prune --dry-run): past `after`, an id or a time between two ids.
      expect(await store.jobs.listExpired({ olderThan: dayAndASecond, limit: 10, after: old.id })).to.deep.equal([
        mid.id,
      ]);
      expect(await store.jobs.listExpired({ olderThan: dayAndASecond, limit: 10, after: mid.id })).to.deep.equal([]);
      expect(await store.jobs.listExpired({ olderThan: dayAndASecond, limit: 10, after: 'j' })).to.deep.equal([
        old.id,
        mid.id,
      ]);
      await store.jobs.remove(old.id);
      await store.jobs.remove(old.id);
      expect(await store.jobs.get(old.id)).to.equal(undefined);
      expect((await store.jobs.list({ limit: 10 })).map((j) => j.id)).to.not.include(old.id);
    });

    it('output: appends in order per stream, reads back, truncates, removes a job', async () => {
      const j = job('running');
      const run = `${j.id}_0`;
      await store.jobs.put(j);
      const appends = [];
      for (let i = 0; i < 100; i++) appends.push(store.output.append(j.id, run, 'stdout', `line ${i}\n`));
      appends.push(store.output.append(j.id, run, 'stderr', 'oops\n'));
      await Promise.all(appends);
      const expected = Array.from({ length: 100 }, (_, i) => `line ${i}\n`).join('');
      expect(await text(await store.output.openRead(j.id, run, 'stdout'))).to.equal(expected);
      expect(await text(await store.output.openRead(j.id, run, 'stderr'))).to.equal('oops\n');
      expect(await text(await store.output.openRead(j.id, `${j.id}_9`, 'stdout'))).to.equal('');
      await store.output.truncate(j.id, run, 'stdout', 14);
      expect(await text(await store.output.openRead(j.id, run, 'stdout'))).to.equal('line 0\nline 1\n');
      await store.output.truncate(j.id, run, 'stdout', 1000);
      expect(await text(await store.output.openRead(j.id, run, 'stdout'))).to.equal('line 0\nline 1\n');
      await store.output.truncate(j.id, `${j.id}_9`, 'stdout', 0);
      await store.output.removeJob(j.id);
      expect(await text(await store.output.openRead(j.id, run, 'stdout'))).to.equal('');
      expect(await text(await store.output.openRead(j.id, run, 'stderr'))).to.equal('');
    });

    it('output: reads from a byte offset (a client catching up), empty at or past the end', async () => {
      const j = job('running');
      const run = `${j.id}_0`;
      const chunk = 'y'.repeat(300 * 1024 - 1) + '\n';
      await store.output.append(j.id, run, 'stdout', 'héllo\n');
      await store.output.append(j.id, run, 'stdout', chunk);
      const all = Buffer.from(`héllo\n${chunk}`);
      expect(await text(await store.output.openRead(j.id, run, 'stdout', 7))).to.equal(chunk);
      const past = 7 + 256 * 1024 + 5;
      expect(await text(await store.output.openRead(j.id, run, 'stdout', past))).to.equal(
        all.subarray(past).toString(),
      );
      expect(await text(await store.output.openRead(j.id, run, 'stdout', all.length))).to.equal('');
      expect(await text(await store.output.openRead(j.id, run, 'stdout', all.length + 10))).to.equal('');
      expect(await text(await store.output.openRead(j.id, `${j.id}_9`, 'stdout', 5))).to.equal('');
    });

    it('output: a large output (over 1 MiB) reads back whole', async () => {
      const j = job('running');
      const chunk = 'x'.repeat(64 * 1024 - 1) + '\n';
      for (let i = 0; i < 20; i++) await store.output.append(j.id, `${j.id}_0`, 'stdout', chunk);
      const back = await text(await store.output.openRead(j.id, `${j.id}_0`, 'stdout'));
      expect(back.length).to.equal(20 * 64 * 1024);
      expect(back).to.equal(chunk.repeat(20));
    });

    it('enrollment tokens: put, get by hash, list, consume until used up or expired, remove', async () => {
      const repo = store.enrollments;
      const token = {
        id: 'e1',
        hash: 'h1',
        createdBy: 'admin',
        createdAt: '2026-01-01T00:00:00.000Z',
        expiresAt: '2026-01-02T00:00:00.000Z',
        usesLeft: 2,
        labels: { role: 'web' },
      };
      await repo.put(token);
      await repo.put({ ...token, id: 'e2', hash: 'h2', createdAt: '2026-01-01T00:00:01.000Z', usesLeft: 5 });
      expect(await repo.getByHash('h1')).to.deep.equal(token);
      expect(await repo.getByHash('nope')).to.equal(undefined);
      expect((await repo.list()).map((t) => t.id)).to.deep.equal(['e1', 'e2']);
      const now = '2026-01-01T12:00:00.000Z';
      // Concurrent uses of a two-use token: exactly two succeed.
      const uses = await Promise.all([1, 2, 3, 4].map(() => repo.consume('h1', now)));
      expect(
        uses
          .filter((u) => u !== undefined)
          .map((u) => u?.usesLeft)
          .sort(),
      ).to.deep.equal([0, 1]);
      expect((await repo.getByHash('h1'))?.usesLeft).to.equal(0);
      expect(await repo.consume('h1', now)).to.equal(undefined);
      expect(await repo.consume('h2', '2026-01-02T00:00:00.000Z')).to.equal(undefined);
      expect(await repo.consume('nope', now)).to.equal(undefined);
      expect((await repo.consume('h2', now))?.usesLeft).to.equal(4);
      expect((await repo.getByHash('h1'))?.labels).to.deep.equal({ role: 'web' });
      expect(await repo.remove('e1')).to.equal(true);
      expect(await repo.remove('e1')).to.equal(false);
      expect(await repo.getByHash('h1')).to.equal(undefined);
      expect((await repo.list()).map((t) => t.id)).to.deep.equal(['e2']);
    });

    it('enrollment tokens: removes those expired before a time, all at once, hashes too', async () => {
      const repo = store.enrollments;
      const token = (i: number, expiresAt: string) => ({
        id: `x${i}`,
        hash: `hx${i}`,
        createdBy: 'admin',
        createdAt: '2026-01-01T00:00:00.000Z',
        expiresAt,
        usesLeft: 1,
      });
      for (let i = 0; i < 50; i++) await repo.put(token(i, '2026-01-05T00:00:00.000Z'));
      await repo.put(token(50, '2026-01-10T00:00:00.000Z'));
      await repo.put(token(51, '2026-01-09T23:59:59.999Z'));
      expect(await repo.removeExpiredBefore('2026-01-01T00:00:00.000Z')).to.equal(0);
      expect(await repo.removeExpiredBefore('2026-01-10T00:00:00.000Z')).to.equal(51);
      expect((await repo.list()).map((t) => t.id)).to.deep.equal(['x50']);
      expect(await repo.getByHash('hx0')).to.equal(undefined);
      expect(await repo.getByHash('hx51')).to.equal(undefined);
      expect((await repo.getByHash('hx50'))?.id).to.equal('x50');
    });

    it('revoked sessions: revoked until their refresh token expires, then forgotten', async () => {
      const repo = store.sessions;
      const now = Date.now();
      await repo.revoke('s-day', now + 60_000);
      await repo.revoke('s-short', now + 300);
      await repo.revoke('s-past', now - 1);
      expect(await repo.isRevoked('s-day')).to.equal(true);
      expect(await repo.isRevoked('s-short')).to.equal(true);
      expect(await repo.isRevoked('s-past')).to.equal(false);
      expect(await repo.isRevoked('s-other')).to.equal(false);
      // An expiry, not a speed: waited past it.
      await new Promise((resolve) => setTimeout(resolve, 400));
      await repo.revoke('s-next', Date.now() + 60_000);
      expect(await repo.isRevoked('s-short')).to.equal(false);
      expect(await repo.isRevoked('s-day')).to.equal(true);
      expect(await repo.isRevoked('s-next')).to.equal(true);
    });

    it('audit log: appends, reads oldest first, filters by since, action and limit', async () => {
      const log = store.audit;
      await log.append({ at: '2026-01-01T00:00:00.000Z', actor: 'admin', action: 'login', ok: true, from: '::1' });
      await log.append({ at: '2026-01-01T00:00:01.000Z', actor: 'bob', action: 'login_failed', ok: false });
      await log.append({
        at: '2026-01-01T00:00:02.000Z',
        actor: 'admin',
        action: 'job_create',
        ok: true,
        jobId: 'j1',
        agents: ['a', 'b'],
      });
      expect((await log.read({})).map((e) => e.action)).to.deep.equal(['login', 'login_failed', 'job_create']);
      expect((await log.read({ since: '2026-01-01T00:00:01.000Z' })).map((e) => e.actor)).to.deep.equal([
        'bob',
        'admin',
      ]);
      expect((await log.read({ action: 'login' })).map((e) => e.at)).to.deep.equal(['2026-01-01T00:00:00.000Z']);
      expect(await log.read({ limit: 1 })).to.deep.equal([
        {
          at: '2026-01-01T00:00:02.000Z',
          actor: 'admin',
          action: 'job_create',
          ok: true,
          jobId: 'j1',
          agents: ['a', 'b'],
        },
      ]);
    });
  });
}

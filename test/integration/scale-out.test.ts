import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startController, type RunningController } from '../../src/controller/index.js';
import { silentLogger } from '../../src/lib/log.js';
import type { Agent, Job } from '../../src/domain/model.js';
import { EV } from '../../src/protocol/events.js';
import { request } from '../../src/client/http.js';
import { Fixtures, waitFor } from '../helpers/fixtures.js';
import { RedisServer } from '../helpers/redis.js';
import { connected, finishedJob, getJob, http, rawSocket, type RawSocket } from './support.js';

/** docs/architecture.md §5 scale-out: controllers sharing one (real) Redis serve any request about any agent or job. */
describe('scale-out: controllers sharing one Redis', function () {
  this.timeout(40_000);
  const fx = new Fixtures();
  let redis: RedisServer;
  before(async () => {
    redis = await RedisServer.start();
  });
  after(() => redis.stop());
  afterEach(() => fx.cleanup());

  /** Controllers on one Redis, under a key prefix of their own (each test starts from an empty cluster). */
  const cluster = async (count: number): Promise<RunningController[]> => {
    const redisPrefix = `t${randomBytes(4).toString('hex')}:`;
    const controllers: RunningController[] = [];
    for (let i = 0; i < count; i++) controllers.push(await fx.controller({ redis: redis.url, redisPrefix }));
    return controllers;
  };
  const client = async (controller: RunningController, token: string): Promise<RawSocket> => {
    const socket = await connected(rawSocket(controller.url, '/clients', { token }));
    fx.defer(() => void socket.disconnect());
    return socket;
  };
  const agentsOf = async (controller: RunningController, token: string) =>
    (await request<{ agents: Agent[] }>(controller.url, '/api/v1/agents', { token })).body.agents
      .map((a) => [a.name, a.status])
      .sort();

  it('runs a job created on B on agents connected to A and C, with live output on C and the job the same everywhere', async () => {
    const [a, b, c] = (await cluster(3)) as [RunningController, RunningController, RunningController];
    const dir = await fx.tempDir();
    const gate = join(dir, 'gate');
    await fx.agent(a, 'so-a');
    await fx.agent(c, 'so-c');
    const token = await fx.adminToken(b);
    // One secret for the cluster: a token from B is good on A and C.
    for (const controller of [a, b, c]) {
      await waitFor(async () => {
        const listed = await agentsOf(controller, token);
        return listed.length === 2 && listed.every(([, status]) => status === 'online');
      }, 'both agents online on every controller');
    }
    const onB = await client(b, token);
    const created = (await onB.timeout(5000).emitWithAck(EV.jobCreate, {
      command: `while [ ! -f ${gate} ]; do sleep 0.05; done; echo "live from $(hostname)" ; echo err >&2; exit 3`,
      target: ['so-*'],
      timeoutMs: 20_000,
    })) as { ok: true; job: Job };
    expect(created.ok).to.equal(true);
    const jobId = created.job.id;

    // A client on C follows the job live: every chunk of output and the end reach it through the adapter.
    const onC = await client(c, token);
    const live: Array<{ agent: string; stream: string; data: Buffer }> = [];
    onC.on(EV.commandProgress, (p: { agent: string; stream: string; data: Buffer }) => live.push(p));
    let finished: Job | undefined;
    onC.on(EV.jobFinished, (job: Job) => (finished = job));
    const subscribed = (await onC.timeout(5000).emitWithAck(EV.jobSubscribe, { jobId })) as { ok: boolean };
    expect(subscribed.ok).to.equal(true);
    let finishedOnB: Job | undefined;
    onB.on(EV.jobFinished, (job: Job) => (finishedOnB = job));
    await writeFile(gate, '');

    const done = await waitFor(() => finished, 'job_finished on the client connected to C');
    await waitFor(() => finishedOnB, 'job_finished on the client connected to B');
    expect(done.status).to.equal('failed');
    expect(done.runs.map((r) => [r.agent.name, r.status, r.exitCode, r.stderr])).to.deep.equal([
      ['so-a', 'failed', 3, 'err\n'],
      ['so-c', 'failed', 3, 'err\n'],
    ]);
    const out = (agent: string) =>
      live
        .filter((p) => p.agent === agent && p.stream === 'stdout')
        .map((p) => p.data.toString())
        .join('');
    // The output's bytes, as binary attachments, through the agent's controller, the job's owner and the adapter.
    expect(live.length).to.be.greaterThan(0);
    expect(live.every((p) => Buffer.isBuffer(p.data))).to.equal(true);
    expect(out('so-a')).to.match(/^live from /);
    expect(out('so-c')).to.match(/^live from /);
    // `jobs show` anywhere: the same document, full output included.
    for (const controller of [a, b, c]) {
      const job = await finishedJob(controller, token, jobId);
      expect(job.runs.map((r) => [r.agent.name, r.status, r.stdout])).to.deep.equal([
        ['so-a', 'failed', out('so-a')],
        ['so-c', 'failed', out('so-c')],
      ]);
      const res = await http(controller.url, `/api/v1/jobs/${jobId}/runs/${jobId}_0/output?stream=stderr`, { token });
      expect(res.text).to.equal('err\n');
    }
  });

  it('two hosts enrolling one name through two controllers at once: one gets it, the other 409, one use taken', async () => {
    const [a, b] = await cluster(2);
    const admin = await fx.adminToken(a as RunningController);
    const issued = await request<{ id: string; token: string }>((a as RunningController).url, '/api/v1/enroll-tokens', {
      method: 'POST',
      token: admin,
      body: { uses: 5 },
    });
    for (let round = 0; round < 3; round++) {
      const name = `twin-${round}`;
      const both = await Promise.all(
        [a, b].map((c) =>
          request<{ name?: string; password?: string; message?: string }>(
            (c as RunningController).url,
            '/api/v1/agents/enroll',
            {
              method: 'POST',
              body: { token: issued.body.token, name },
            },
          ),
        ),
      );
      const statuses = both.map((r) => r.status).sort();
      expect(statuses, JSON.stringify(both.map((r) => r.body))).to.deep.equal([201, 409]);
      // The winner's credential is the one stored: it logs in, on either controller.
      const winner = both.find((r) => r.status === 201)?.body.password as string;
      const login = await request((b as RunningController).url, '/token', {
        form: { username: name, password: winner },
      });
      expect(login.status, login.text).to.equal(200);
    }
    const tokens = await request<{ tokens: Array<{ id: string; usesLeft: number }> }>(
      (b as RunningController).url,
      '/api/v1/enroll-tokens',
      { token: admin },
    );
    // Three enrolled, three uses taken: the refused ones took none.
    expect(tokens.body.tokens.find((t) => t.id === issued.body.id)?.usesLeft).to.equal(2);
  });

  it('two admins adding one user name through two controllers at once: one gets it, the other 409', async () => {
    const [a, b] = await cluster(2);
    const admin = await fx.adminToken(a as RunningController);
    const both = await Promise.all(
      [a, b].map((c, i) =>
        request<{ message?: string }>((c as RunningController).url, '/api/v1/users', {
          method: 'POST',
          token: admin,
          body: { name: 'ops-1', role: 'viewer', password: `password-of-${i}` },
        }),
      ),
    );
    expect(both.map((r) => r.status).sort()).to.deep.equal([201, 409]);
    expect(both.find((r) => r.status === 409)?.body.message).to.equal('user "ops-1" already exists');
    // The password stored is the winner's.
    const winner = both.findIndex((r) => r.status === 201);
    const login = await request((b as RunningController).url, '/token', {
      form: { username: 'ops-1', password: `password-of-${winner}` },
    });
    expect(login.status, login.text).to.equal(200);
  });

  it('closing the controllers of a cluster leaves no unhandled rejection (the adapter unsubscribes unawaited)', async () => {
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', record);
    try {
      for (let round = 0; round < 3; round++) {
        const [a, b] = await cluster(2);
        await Promise.all([(a as RunningController).close(), (b as RunningController).close()]);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    } finally {
      process.off('unhandledRejection', record);
    }
    expect(unhandled.map((r) => (r as Error).message)).to.deep.equal([]);
  });

  it('cancels through C a job owned by B that runs on an agent connected to A', async () => {
    const [a, b, c] = (await cluster(3)) as [RunningController, RunningController, RunningController];
    await fx.agent(a, 'sc-a');
    const token = await fx.adminToken(b);
    await waitFor(async () => (await agentsOf(b, token)).length === 1, 'agent known to B');
    const created = await request<Job>(b.url, '/api/v1/jobs', {
      method: 'POST',
      token,
      body: { command: 'echo started; sleep 30', target: ['sc-a'] },
    });
    expect(created.status).to.equal(201);
    const id = created.body.id;
    await waitFor(async () => (await getJob(c, token, id)).runs[0]?.stdout === 'started\n', 'the run to start');
    const cancel = await request<Job>(c.url, `/api/v1/jobs/${id}/cancel`, { method: 'POST', token });
    expect(cancel.status).to.equal(200);
    const job = await finishedJob(a, token, id);
    expect(job.status).to.equal('cancelled');
    expect(job.runs[0]?.status).to.equal('cancelled');
  });

  it('a job for an agent connected nowhere is unreachable at once; with --deliver-within it waits for it on any controller', async () => {
    const [a, b] = (await cluster(2)) as [RunningController, RunningController];
    const first = await fx.agent(a, 'sd-a');
    const token = await fx.adminToken(b);
    await first.stop();
    await waitFor(async () => (await agentsOf(b, token))[0]?.[1] === 'offline', 'agent offline on B');
    const now = await request<Job>(b.url, '/api/v1/jobs', {
      method: 'POST',
      token,
      body: { command: 'echo hi', target: ['sd-a'] },
    });
    expect(now.body.runs[0]?.status).to.equal('unreachable');
    const later = await request<Job>(b.url, '/api/v1/jobs', {
      method: 'POST',
      token,
      body: { command: 'echo delivered', target: ['sd-a'], deliverWithinMs: 20_000 },
    });
    expect(later.body.runs[0]?.status).to.equal('queued');
    // It comes back on A (B owns the job): delivered through the adapter.
    await fx.agent(a, 'sd-a');
    const job = await finishedJob(b, token, later.body.id);
    expect(job.runs[0]).to.include({ status: 'succeeded', stdout: 'delivered\n' });
  });
});

describe('scale-out: Redis going away and coming back', function () {
  this.timeout(40_000);
  const fx = new Fixtures();
  let redis: RedisServer;
  beforeEach(async () => {
    redis = await RedisServer.start();
  });
  afterEach(async () => {
    await fx.cleanup();
    await redis.stop();
  });

  it('refuses to start on a --redis URL that is not redis:// or a Redis that does not answer, saying so', async () => {
    const dataDir = await fx.tempDir();
    const start = (url: string) =>
      startController({
        host: '127.0.0.1',
        port: 0,
        dataDir,
        tokenTtlSeconds: 3600,
        log: silentLogger,
        redis: url,
      }).then(
        () => {
          throw new Error('started');
        },
        (err: Error) => err,
      );
    expect((await start('http://127.0.0.1:6379')).message).to.match(/invalid --redis URL .*use redis:\/\//);
    expect((await start('redis://:secret@127.0.0.1:1')).message).to.match(
      /cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1.*start it, or fix --redis/,
    );
    // Nothing was written to the data dir: the embedded store was never opened.
    expect(await readdir(dataDir)).to.deep.equal([]);
  });

  it('reports unhealthy and refuses new jobs with 503 and the reason while Redis is down; recovers when it is back', async () => {
    const controller = await fx.controller({ redis: redis.url });
    await fx.agent(controller, 'rd-1');
    const token = await fx.adminToken(controller);
    expect((await http(controller.url, '/healthz')).status).to.equal(200);
    expect((await http(controller.url, '/readyz')).status).to.equal(200);

    const socket = await connected(rawSocket(controller.url, '/clients', { token }));
    fx.defer(() => void socket.disconnect());

    await redis.stop({ save: true });
    const health = await waitFor(async () => {
      const res = await http(controller.url, '/healthz');
      return res.status === 503 && res;
    }, '/healthz to report the outage');
    expect(health.body).to.include({ status: 'unhealthy' });
    expect(health.body.reason).to.match(/redis/i);
    const ready = await http(controller.url, '/readyz');
    expect(ready.status).to.equal(503);
    expect((ready.body.checks as Record<string, string>).store).to.match(/redis/i);
    const refused = await http(controller.url, '/api/v1/jobs', {
      method: 'POST',
      token,
      type: 'application/json',
      body: JSON.stringify({ command: 'echo no', target: ['rd-1'] }),
    });
    expect(refused.status).to.equal(503);
    expect(refused.body).to.include({ error: 'store_unavailable' });
    expect(refused.body.message).to.match(/shared store \(Redis\) is unavailable.*try again when it is back/);
    // The same for a client socket (connected before the outage).
    const ack = (await socket.timeout(5000).emitWithAck(EV.jobCreate, { command: 'echo no', target: ['rd-1'] })) as {
      ok: boolean;
      error: string;
    };
    expect(ack).to.include({ ok: false, error: 'store_unavailable' });

    await redis.start();
    await waitFor(async () => (await http(controller.url, '/healthz')).status === 200, '/healthz to recover');
    expect((await http(controller.url, '/readyz')).status).to.equal(200);
    const created = await request<Job>(controller.url, '/api/v1/jobs', {
      method: 'POST',
      token,
      body: { command: 'echo back', target: ['rd-1'] },
    });
    expect(created.status).to.equal(201);
    const job = await finishedJob(controller, token, created.body.id);
    expect(job.runs[0]).to.include({ status: 'succeeded', stdout: 'back\n' });
    // Nothing was stored for the refused job.
    const list = await request<{ jobs: Job[] }>(controller.url, '/api/v1/jobs', { token });
    expect(JSON.stringify(list.body)).to.not.include('echo no');
  });
});

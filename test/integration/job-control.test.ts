import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunningController } from '../../src/controller/index.js';
import { runCli } from '../helpers/cli.js';
import { Fixtures, waitFor } from '../helpers/fixtures.js';

const admin = { name: 'admin', role: 'admin' } as const;

/** Rate control, queued delivery, large output, cancel and retention (issue 5), on a real controller and real agents. */
describe('job control at fleet scale', function () {
  this.timeout(60_000);
  const fx = new Fixtures();
  afterEach(() => fx.cleanup());

  const finished = (c: RunningController, id: string, timeoutMs = 20_000) =>
    waitFor(
      async () => {
        const job = await c.jobs.get(id);
        return job.status !== 'running' && structuredClone(job);
      },
      `job ${id} to finish`,
      timeoutMs,
    );

  const request = (command: string, extra: Record<string, unknown> = {}) => ({
    command,
    target: ['w-*'],
    executor: 'shell' as const,
    timeoutMs: 30_000,
    ...extra,
  });

  async function fleet(n: number) {
    const controller = await fx.controller();
    for (let i = 1; i <= n; i++) await fx.agent(controller, `w-${i}`);
    return controller;
  }

  it('--max-concurrency 2 over 6 agents: never more than 2 runs at once, all run', async () => {
    const c = await fleet(6);
    const job = await c.jobs.create(request('sleep 0.3', { maxConcurrency: 2 }), admin, await c.agents.list());
    expect(job.maxConcurrency).to.equal(2);
    const done = await finished(c, job.id);
    expect(done.summary.succeeded).to.equal(6);
    const edges = done.runs.flatMap((r) => [
      { t: Date.parse(r.startedAt as string), d: 1 },
      { t: Date.parse(r.finishedAt as string), d: -1 },
    ]);
    edges.sort((a, b) => a.t - b.t || a.d - b.d);
    let now = 0;
    let most = 0;
    for (const e of edges) most = Math.max(most, (now += e.d));
    expect(most).to.be.at.most(2);
    expect(most).to.equal(2);
  });

  it('a percentage is of the targeted agents', async () => {
    const c = await fleet(4);
    const job = await c.jobs.create(
      request('true', { maxConcurrency: '50%', maxErrors: '25%' }),
      admin,
      await c.agents.list(),
    );
    expect(job.maxConcurrency).to.equal(2);
    expect(job.maxErrors).to.equal(1);
    expect((await finished(c, job.id)).status).to.equal('succeeded');
  });

  it('--max-errors 1 with concurrency 1 over 6 failing agents: 2 failed, 4 skipped, job failed', async () => {
    const c = await fleet(6);
    const job = await c.jobs.create(
      request('false', { maxConcurrency: 1, maxErrors: 1 }),
      admin,
      await c.agents.list(),
    );
    const done = await finished(c, job.id);
    expect(done.status).to.equal('failed');
    expect(done.summary).to.include({ failed: 2, skipped: 4, succeeded: 0 });
    expect(done.runs.filter((r) => r.status === 'skipped').every((r) => r.startedAt === null)).to.equal(true);
  });

  it('--deliver-within: an offline agent runs the job when it connects; past the deadline it is unreachable', async () => {
    const c = await fx.controller();
    const first = await fx.agent(c, 'w-1');
    await first.stop();
    await waitFor(async () => (await c.agents.find('w-1')).status === 'offline', 'w-1 offline');

    const waiting = await c.jobs.create(
      request('echo late', { deliverWithinMs: 60_000 }),
      admin,
      await c.agents.list(),
    );
    expect(waiting.runs[0]?.status).to.equal('queued');
    const short = await c.jobs.create(request('echo never', { deliverWithinMs: 1000 }), admin, await c.agents.list());
    const gone = await finished(c, short.id);
    expect(gone.runs[0]?.status).to.equal('unreachable');

    await fx.agent(c, 'w-1');
    const done = await finished(c, waiting.id);
    expect(done.runs[0]?.status).to.equal('succeeded');
    expect(done.runs[0]?.stdout).to.equal('late\n');
  });

  it('without --deliver-within an offline agent is unreachable at once', async () => {
    const c = await fx.controller();
    await (await fx.agent(c, 'w-1')).stop();
    await waitFor(async () => (await c.agents.find('w-1')).status === 'offline', 'w-1 offline');
    const job = await c.jobs.create(request('true'), admin, await c.agents.list());
    expect(job.status).to.equal('failed');
    expect(job.runs[0]?.status).to.equal('unreachable');
  });

  it('50 MB of output: `jobs logs` gives exactly the same bytes', async () => {
    const c = await fleet(1);
    const dir = await fx.tempDir();
    const source = join(dir, 'random.bin');
    await writeFile(
      source,
      spawnSync('head', ['-c', '37500000', '/dev/urandom'], { maxBuffer: 64 * 1024 * 1024 }).stdout,
    );
    const expected = spawnSync('sh', ['-c', `base64 -w 76 ${source} | sha256sum`])
      .stdout.toString()
      .split(' ')[0];
    const job = await c.jobs.create(request(`base64 -w 76 ${source}`), admin, await c.agents.list());
    const done = await finished(c, job.id, 50_000);
    expect(done.runs[0]?.status).to.equal('succeeded');
    expect(done.runs[0]?.stdoutTruncated).to.equal(true);
    expect(done.runs[0]?.stdoutBytes).to.be.greaterThan(50_000_000);

    const token = await fx.adminToken(c);
    const res = await runCli(['jobs', 'logs', job.id, '--agent', 'w-1'], {
      env: { OGENT_CONTROLLER: c.url, OGENT_TOKEN: token, XDG_CONFIG_HOME: dir },
      timeoutMs: 50_000,
    });
    expect(res.code, res.stderr).to.equal(0);
    expect(res.stdout.length).to.equal(done.runs[0]?.stdoutBytes);
    expect(createHash('sha256').update(res.stdout).digest('hex')).to.equal(expected);
  });

  it('output is stored byte for byte, bytes that are not UTF-8 too; a character split between reads stays whole', async () => {
    const c = await fleet(1);
    // é (c3 a9) is written in two parts 0.3 s apart: two reads, two chunks. Then two bytes that are not UTF-8.
    const command = String.raw`printf 'caf\303'; sleep 0.3; printf '\251 ok\n'; printf '\377\376raw\n'`;
    const job = await c.jobs.create(request(command), admin, await c.agents.list());
    const done = await finished(c, job.id);
    const run = done.runs[0];
    expect(run?.status).to.equal('succeeded');
    expect(run?.seq).to.be.at.least(2);
    const expected = Buffer.concat([Buffer.from('café ok\n'), Buffer.from([0xff, 0xfe]), Buffer.from('raw\n')]);
    const stored: Buffer[] = [];
    for await (const chunk of await c.jobs.readOutput(job.id, run?.id ?? '', 'stdout')) stored.push(chunk as Buffer);
    expect(Buffer.concat(stored).equals(expected)).to.equal(true);
    expect(run?.stdoutBytes).to.equal(expected.length);
    // The document's text: the é whole (not two U+FFFD), the bytes that are not UTF-8 as U+FFFD.
    expect(run?.stdout).to.equal('café ok\n\uFFFD\uFFFDraw\n');
    // `exec` prints the bytes as they were written, after the prefix.
    const dir = await fx.tempDir();
    const env = { OGENT_CONTROLLER: c.url, OGENT_TOKEN: await fx.adminToken(c), XDG_CONFIG_HOME: dir };
    const res = await runCli(['exec', '-t', 'w-1', '--no-tui', '--', command], { env });
    expect(res.code, res.stderr).to.equal(0);
    const lines = expected.toString('latin1').replaceAll(/^/gm, 'w-1: ').slice(0, -'w-1: '.length);
    expect(res.stdoutBytes.toString('latin1')).to.equal(lines);
  });

  it('cancel kills the command and its children on the agent host', async () => {
    const c = await fleet(1);
    const job = await c.jobs.create(request('sleep 1234.5; echo never'), admin, await c.agents.list());
    await waitFor(() => spawnSync('pgrep', ['-f', 'sleep 1234.5']).status === 0, 'the sleep to start');
    await c.jobs.cancel(job.id, admin);
    const done = await finished(c, job.id);
    expect(done.status).to.equal('cancelled');
    expect(done.runs[0]?.status).to.equal('cancelled');
    await waitFor(() => spawnSync('pgrep', ['-f', 'sleep 1234.5']).status === 1, 'the sleep to be gone');
  });

  it('retention keeps the newest finished jobs and removes the others with their output', async () => {
    const dataDir = await fx.tempDir();
    const c = await fx.controller({ dataDir, retainJobs: 2 });
    await fx.agent(c, 'w-1');
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const job = await c.jobs.create(request(`echo ${i}`), admin, await c.agents.list());
      await finished(c, job.id);
      ids.push(job.id);
    }
    expect(await c.jobs.prune()).to.equal(2);
    const kept = (await c.jobs.list(10)).map((j) => j.id);
    expect(kept).to.deep.equal([ids[3], ids[2]]);
    expect(existsSync(join(dataDir, 'jobs', `${ids[0]}.json`))).to.equal(false);
    expect(existsSync(join(dataDir, 'output', ids[0] as string))).to.equal(false);
    expect(existsSync(join(dataDir, 'output', ids[3] as string))).to.equal(true);
    const error = await c.jobs.get(ids[0] as string).then(
      () => null,
      (err: Error) => err,
    );
    expect(error?.message).to.match(/no job/);
  });
});

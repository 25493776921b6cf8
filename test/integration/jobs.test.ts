import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunningController } from '../../src/controller/index.js';
import type { Job } from '../../src/domain/model.js';
import { DOC_OUTPUT_CAP } from '../../src/controller/application/job-service.js';
import { EV, type CommandProgress } from '../../src/protocol/events.js';
import { Fixtures, waitFor } from '../helpers/fixtures.js';
import { alive } from '../helpers/processes.js';
import {
  connected,
  createJob,
  finishedJob,
  getJob,
  http,
  jobOnDisk,
  rawSocket,
  userToken,
  type RawSocket,
} from './support.js';

async function pidsIn(file: string): Promise<number[]> {
  return (await readFile(file, 'utf8')).split(/\s+/).filter(Boolean).map(Number);
}

describe('jobs on real agents (real Socket.IO on port 0)', () => {
  const fx = new Fixtures();
  let controller: RunningController;
  let dataDir: string;
  let admin: string;

  beforeEach(async () => {
    dataDir = await fx.tempDir();
    controller = await fx.controller({ dataDir });
    admin = await fx.adminToken(controller);
    await fx.agent(controller, 'web-1', { role: 'web' });
    await fx.agent(controller, 'web-2', { role: 'web' });
  });
  afterEach(() => fx.cleanup());

  /** Creates a job over `/clients` (joined from its creation, so it sees every event) and collects what it is sent. */
  const createFollowed = async (request: { command: string; target: string[] }) => {
    const socket: RawSocket = await connected(rawSocket(controller.url, '/clients', { token: admin }));
    fx.defer(() => void socket.disconnect());
    const progress: Array<CommandProgress & { agent: string }> = [];
    let finished: Job | undefined;
    socket.on(EV.commandProgress, (p: CommandProgress & { agent: string }) => progress.push(p));
    socket.on(EV.jobFinished, (job: Job) => (finished = job));
    const ack = (await socket.timeout(5000).emitWithAck(EV.jobCreate, request)) as { ok: boolean; job: Job };
    expect(ack.ok).to.equal(true);
    return { job: ack.job, progress, finished: () => waitFor(() => finished, 'job_finished') };
  };

  it('runs a job on two agents: ordered output per run, stdout and stderr apart, the job document of §5.5', async () => {
    const command = 'for i in $(seq 1 300); do echo "out $i"; echo "err $i" >&2; done';
    const live = await createFollowed({ command, target: ['role=web'] });
    const job = live.job;
    expect(job.runs.map((r) => r.agent.name)).to.deep.equal(['web-1', 'web-2']);
    // persisted before dispatch: the file exists with both runs
    expect((await jobOnDisk(dataDir, job.id)).runs).to.have.length(2);
    const finished = await live.finished();
    const done = await getJob(controller, admin, job.id);
    expect(finished.status).to.equal('succeeded');

    const out = Array.from({ length: 300 }, (_, i) => `out ${i + 1}\n`).join('');
    const err = Array.from({ length: 300 }, (_, i) => `err ${i + 1}\n`).join('');
    for (const run of done.runs) {
      expect(run.stdout, run.agent.name).to.equal(out);
      expect(run.stderr, run.agent.name).to.equal(err);
      // full output in the files beside the store, as the API serves it
      const base = join(dataDir, 'output', job.id, run.id);
      expect(await readFile(`${base}.stdout`, 'utf8')).to.equal(out);
      expect(await readFile(`${base}.stderr`, 'utf8')).to.equal(err);
      const api = await http(controller.url, `/api/v1/jobs/${job.id}/runs/${run.id}/output?stream=stderr`, {
        token: admin,
      });
      expect(api.text).to.equal(err);
    }
    // the live stream: every chunk once, seqs 1..n in order per run, carrying exactly the output
    for (const run of done.runs) {
      const chunks = live.progress.filter((p) => p.runId === run.id);
      expect(
        chunks.map((c) => c.seq),
        run.agent.name,
      ).to.deep.equal(chunks.map((_, i) => i + 1));
      expect(chunks.at(-1)?.seq).to.equal(run.seq);
      for (const c of chunks) expect(c.agent).to.equal(run.agent.name);
      const streamed = (stream: string) =>
        chunks
          .filter((c) => c.stream === stream)
          .map((c) => c.data)
          .join('');
      expect(streamed('stdout')).to.equal(out);
      expect(streamed('stderr')).to.equal(err);
    }

    // §5.5, field by field
    expect(done).to.include({ id: job.id, command, executor: 'shell', status: 'succeeded', createdBy: 'admin' });
    expect(done.target).to.deep.equal(['role=web']);
    expect(Date.parse(done.finishedAt as string)).to.be.at.least(Date.parse(done.createdAt));
    expect(done.summary).to.deep.equal({
      total: 2,
      succeeded: 2,
      failed: 0,
      timed_out: 0,
      cancelled: 0,
      rejected: 0,
      lost: 0,
      unreachable: 0,
      skipped: 0,
    });
    const agents = await controller.agents.list();
    for (const run of done.runs) {
      expect(run).to.include.keys(
        'id',
        'agent',
        'status',
        'exitCode',
        'signal',
        'stdout',
        'stderr',
        'startedAt',
        'finishedAt',
        'durationMs',
      );
      expect(run.agent).to.deep.equal({
        id: agents.find((a) => a.name === run.agent.name)?.id,
        name: run.agent.name,
      });
      expect(run).to.include({ status: 'succeeded', exitCode: 0, signal: null });
      expect(run.durationMs).to.be.a('number').and.at.least(0);
      expect(Date.parse(run.finishedAt as string)).to.be.at.least(Date.parse(run.startedAt as string));
    }
    expect(finished).to.deep.equal(done);
    expect(await jobOnDisk(dataDir, job.id)).to.deep.equal(done);
  });

  it('caps output in the document but keeps all of it in the output file', async () => {
    // ~200 KB on stdout, one line per 100 bytes
    const job = await createJob(controller, admin, {
      command: "i=0; while [ $i -lt 2000 ]; do printf '%099d\\n' $i; i=$((i+1)); done",
      target: ['web-1'],
    });
    const done = await finishedJob(controller, admin, job.id);
    const run = done.runs[0] as Job['runs'][0];
    expect(run.status).to.equal('succeeded');
    expect(run.stdoutTruncated).to.equal(true);
    expect(run.stdout.length).to.equal(DOC_OUTPUT_CAP);
    const full = await readFile(join(dataDir, 'output', job.id, `${run.id}.stdout`), 'utf8');
    expect(full.length).to.equal(200_000);
    expect(full.startsWith(run.stdout)).to.equal(true);
    expect(full.split('\n').at(-2)).to.equal(String(1999).padStart(99, '0'));
    const api = await http(controller.url, `/api/v1/jobs/${job.id}/runs/${run.id}/output`, { token: admin });
    expect(api.text).to.equal(full);
    // From an offset: the rest only, and the offset it starts at in a header.
    const path = `/api/v1/jobs/${job.id}/runs/${run.id}/output?stream=stdout`;
    const tail = await http(controller.url, `${path}&offset=150000`, { token: admin });
    expect(tail.status).to.equal(200);
    expect(tail.text).to.equal(full.slice(150_000));
    expect(tail.headers.get('ogent-output-offset')).to.equal('150000');
    expect((await http(controller.url, `${path}&offset=200000`, { token: admin })).text).to.equal('');
    for (const bad of ['-1', 'abc', '1.5', '99999999999999999999']) {
      const res = await http(controller.url, `${path}&offset=${bad}`, { token: admin });
      expect(res.status, bad).to.equal(400);
      expect(res.body, bad).to.include({ error: 'invalid_request' });
    }
  });

  it('a failing command fails its run with the exit code; the job fails', async () => {
    const job = await createJob(controller, admin, {
      command: 'if [ "$(hostname)" ]; then echo oops >&2; exit 3; fi',
      target: ['web-2'],
    });
    const done = await finishedJob(controller, admin, job.id);
    expect(done.status).to.equal('failed');
    expect(done.runs[0]).to.include({ status: 'failed', exitCode: 3, stderr: 'oops\n', stdout: '' });
    expect(done.summary).to.include({ total: 1, failed: 1, succeeded: 0 });
  });

  it('a timeout kills the whole process tree and the run is timed_out', async () => {
    const pids = join(await fx.tempDir(), 'pids');
    const job = await createJob(controller, admin, {
      command: `sleep 30 & echo $! >> ${pids}; sh -c 'sleep 31' & echo $! >> ${pids}; echo $$ >> ${pids}; sleep 32`,
      target: ['web-1'],
      timeoutMs: 1000,
    });
    await waitFor(async () => (await readFile(pids, 'utf8').catch(() => '')).split('\n').length > 3, 'the pids');
    const started = await pidsIn(pids);
    expect(started).to.have.length(3);
    for (const pid of started) expect(await alive(pid), `pid ${pid} running`).to.equal(true);
    const done = await finishedJob(controller, admin, job.id);
    expect(done.runs[0]?.status).to.equal('timed_out');
    expect(done.runs[0]?.error).to.match(/timed out after 1000 ms/);
    expect(done.status).to.equal('failed');
    expect(done.summary.timed_out).to.equal(1);
    for (const pid of started) await waitFor(async () => !(await alive(pid)), `pid ${pid} to be killed`);
  });

  it('a timeout also kills a descendant that ignores SIGTERM and lets go of the output pipes', async () => {
    const pids = join(await fx.tempDir(), 'pids');
    const job = await createJob(controller, admin, {
      command: `(trap '' TERM; exec sleep 30) >/dev/null 2>&1 & echo $! >> ${pids}; echo $$ >> ${pids}; sleep 31`,
      target: ['web-1'],
      timeoutMs: 500,
    });
    await waitFor(async () => (await readFile(pids, 'utf8').catch(() => '')).split('\n').length > 2, 'the pids');
    const started = await pidsIn(pids);
    const done = await finishedJob(controller, admin, job.id);
    expect(done.runs[0]?.status).to.equal('timed_out');
    for (const pid of started) await waitFor(async () => !(await alive(pid)), `pid ${pid} to be killed`);
  });

  it('cancel kills the running commands and marks the runs and the job cancelled', async () => {
    const pids = join(await fx.tempDir(), 'pids');
    const job = await createJob(controller, admin, {
      command: `sleep 30 & echo $! >> ${pids}; echo $$ >> ${pids}; wait`,
      target: ['web-*'],
    });
    await waitFor(async () => (await readFile(pids, 'utf8').catch(() => '')).split('\n').length > 4, 'the pids');
    const started = await pidsIn(pids);
    expect(started).to.have.length(4);
    const viewerToken = await userToken(controller, 'vic', 'viewer');
    const forbidden = await http(controller.url, `/api/v1/jobs/${job.id}/cancel`, {
      method: 'POST',
      token: viewerToken,
    });
    expect(forbidden.status).to.equal(403);
    expect((await getJob(controller, admin, job.id)).status).to.equal('running');

    const res = await http(controller.url, `/api/v1/jobs/${job.id}/cancel`, { method: 'POST', token: admin });
    expect(res.status).to.equal(200);
    const done = await finishedJob(controller, admin, job.id);
    expect(done.status).to.equal('cancelled');
    expect(done.runs.map((r) => r.status)).to.deep.equal(['cancelled', 'cancelled']);
    expect(done.summary).to.include({ total: 2, cancelled: 2 });
    for (const pid of started) await waitFor(async () => !(await alive(pid)), `pid ${pid} to be killed`);
    // cancelling a finished job changes nothing
    const again = await http(controller.url, `/api/v1/jobs/${job.id}/cancel`, { method: 'POST', token: admin });
    expect(again.status).to.equal(200);
    expect(again.body.status).to.equal('cancelled');
    expect(await getJob(controller, admin, job.id)).to.deep.equal(done);
  });

  it('a run for an agent that is offline is unreachable at once', async () => {
    const away = await fx.agent(controller, 'web-3', { role: 'web' });
    await away.stop();
    await waitFor(
      async () => (await controller.agents.list()).find((a) => a.name === 'web-3')?.status === 'offline',
      'web-3 offline',
    );
    const job = await createJob(controller, admin, { command: 'true', target: ['role=web'] });
    const done = await finishedJob(controller, admin, job.id);
    expect(done.runs.map((r) => [r.agent.name, r.status])).to.deep.equal([
      ['web-1', 'succeeded'],
      ['web-2', 'succeeded'],
      ['web-3', 'unreachable'],
    ]);
    expect(done.status).to.equal('failed');
  });
});

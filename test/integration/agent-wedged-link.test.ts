import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { passwordTokens, startAgent, type RunningAgent } from '../../src/agent/index.js';
import type { RunningController } from '../../src/controller/index.js';
import { silentLogger } from '../../src/lib/log.js';
import { Fixtures, waitFor } from '../helpers/fixtures.js';
import { alive } from '../helpers/processes.js';
import { request } from '../../src/client/http.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { createJob, finishedJob } from './support.js';

/**
 * The agent pauses a command's output while its connection is backlogged (issue 5). A run that times out (or is
 * cancelled) must still end on the agent while that lasts: its processes are killed, and what is left in its pipes
 * is read, so the run's result is spooled and sent when the link moves again.
 */
describe('a run whose output waits on a wedged connection (real controller, agent, processes, TCP proxy)', function () {
  this.timeout(60_000);
  const fx = new Fixtures();
  afterEach(() => fx.cleanup());

  let controller: RunningController;
  let agent: RunningAgent;
  let proxy: TcpProxy;
  let disconnects: number;

  beforeEach(async () => {
    controller = await fx.controller();
    const name = 'wedge-1';
    const password = `pw-${name}-123456`;
    await controller.auth.addUser({ name: 'admin', role: 'admin' }, name, 'agent', password);
    proxy = new TcpProxy(controller.port);
    const url = await proxy.listen();
    fx.defer(() => proxy.close());
    agent = await startAgent({
      controller: url,
      name,
      labels: {},
      stateDir: null,
      tokens: passwordTokens(url, name, password),
      log: silentLogger,
      minDelayMs: 50,
      maxDelayMs: 500,
    });
    fx.defer(() => agent.stop({ graceMs: 0 }));
    await agent.ready;
    disconnects = 0;
    const detach = agent.manager.detach.bind(agent.manager);
    agent.manager.detach = () => {
      disconnects++;
      detach();
    };
  });

  /** Starts `yes` on the agent, wedges the link once output is stored; returns the job and the command's pid. */
  const wedgedRun = async (admin: string, timeoutMs: number) => {
    const pidFile = join(await fx.tempDir(), 'pid');
    // `yes` writes far faster than anything reads: its output fills the connection at once.
    const job = await createJob(controller, admin, {
      command: `echo $$ > ${pidFile}; exec yes wedged-output-line`,
      target: ['wedge-1'],
      timeoutMs,
    });
    const pid = Number(await waitFor(() => readFile(pidFile, 'utf8').catch(() => ''), 'the command to start'));
    await waitFor(async () => (await controller.jobs.get(job.id)).runs[0]?.stdoutBytes, 'output stored');
    proxy.stall('up');
    return { job, pid };
  };

  /** The run ends on the agent, its command killed, while the connection is still up and takes nothing. */
  const endsWhileWedged = async (pid: number) => {
    await waitFor(async () => !(await alive(pid)), 'the command to be killed', 15_000);
    await waitFor(() => agent.manager.running === 0, 'the run to end on the agent', 15_000);
    expect(disconnects, 'the run ended before the connection was dropped').to.equal(0);
  };

  it('stops reading the command while the connection takes nothing: the command waits, the agent holds a bounded amount', async () => {
    const dir = await fx.tempDir();
    const count = join(dir, 'count');
    const admin = await fx.adminToken(controller);
    // 64 KiB a write, and after each write the number of writes so far: it stops growing when a write blocks.
    const job = await createJob(controller, admin, {
      command: `i=0; while :; do head -c 65536 /dev/zero; i=$((i+1)); echo $i > ${count}; done`,
      target: ['wedge-1'],
      timeoutMs: 60_000,
    });
    const writes = async () => Number((await readFile(count, 'utf8').catch(() => '0')).trim() || 0);
    await waitFor(async () => (await controller.jobs.get(job.id)).runs[0]?.stdoutBytes, 'output stored');
    proxy.stall('up');
    // Settled: the same count twice, 1 s apart (with no backpressure it grows by ~1,000 a second here).
    let before = -1;
    const settled = await waitFor(
      async () => {
        const now = await writes();
        const same = now === before;
        before = now;
        if (!same) await new Promise((resolve) => setTimeout(resolve, 1000));
        return same && now;
      },
      'the command to stop writing',
      30_000,
    );
    const stored = (await controller.jobs.get(job.id)).runs[0]?.stdoutBytes ?? 0;
    // What the command wrote and the controller has not got: the agent's bounded backlog (2 MiB in the WebSocket,
    // the chunks being cut, the pipe) and the kernel's socket buffers on both sides of the proxy.
    const unsent = settled * 65536 - stored;
    expect(unsent, `${settled} writes of 64 KiB, ${stored} bytes stored`).to.be.at.most(24 * 1024 * 1024);
    // It goes on once the link moves, and nothing was lost.
    proxy.release('up');
    await waitFor(async () => (await writes()) > settled + 100, 'the command to write again', 30_000);
    await request(controller.url, `/api/v1/jobs/${job.id}/cancel`, { method: 'POST', token: admin });
    const done = await finishedJob(controller, admin, job.id, 30_000);
    expect(done.runs[0]?.status).to.equal('cancelled');
    expect(done.runs[0]?.stdoutBytes, 'every byte written before the cancel was stored').to.be.at.least(
      (settled + 100) * 65536,
    );
    expect(disconnects).to.equal(0);
  });

  it('a timeout kills the command and ends the run while the connection takes nothing', async () => {
    const admin = await fx.adminToken(controller);
    const { job, pid } = await wedgedRun(admin, 3000);
    await endsWhileWedged(pid);
    expect((await controller.jobs.get(job.id)).status, 'the controller has not heard yet').to.equal('running');
    // Once the link moves, the controller gets the result.
    proxy.release('up');
    const done = await finishedJob(controller, admin, job.id, 30_000);
    expect(done.runs[0]?.status).to.equal('timed_out');
  });

  it('a cancel kills the command and ends the run while the connection takes nothing', async () => {
    const admin = await fx.adminToken(controller);
    const { job, pid } = await wedgedRun(admin, 60_000);
    // Let the backlog build up to the agent's pause before the cancel arrives.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const res = await request(controller.url, `/api/v1/jobs/${job.id}/cancel`, { method: 'POST', token: admin });
    expect(res.status).to.equal(200);
    await endsWhileWedged(pid);
    proxy.release('up');
    const done = await finishedJob(controller, admin, job.id, 30_000);
    expect(done.runs[0]?.status).to.equal('cancelled');
    expect(done.status).to.equal('cancelled');
  });

  it('many runs paused on one wedged connection wait together (no listeners piling up per run)', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    fx.defer(() => void process.off('warning', onWarning));
    const admin = await fx.adminToken(controller);
    const jobs = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        createJob(controller, admin, { command: `exec yes wedged-${i}`, target: ['wedge-1'], timeoutMs: 60_000 }),
      ),
    );
    await waitFor(
      async () => (await Promise.all(jobs.map((j) => controller.jobs.get(j.id)))).every((j) => j.runs[0]?.stdoutBytes),
      'output of every run stored',
    );
    proxy.stall('up');
    // Every run pauses within a moment; give the warnings (emitted on a later tick) time to come.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(agent.manager.running).to.equal(12);
    expect(warnings).to.deep.equal([]);
    for (const j of jobs) {
      const res = await request(controller.url, `/api/v1/jobs/${j.id}/cancel`, { method: 'POST', token: admin });
      expect(res.status).to.equal(200);
    }
    await waitFor(() => agent.manager.running === 0, 'every run to end on the agent', 15_000);
    proxy.release('up');
    for (const j of jobs) expect((await finishedJob(controller, admin, j.id, 30_000)).status).to.equal('cancelled');
  });
});

import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunningController } from '../../src/controller/index.js';
import { Fixtures, waitFor } from '../helpers/fixtures.js';
import { createJob, finishedJob } from './support.js';

/**
 * Backpressure from the controller's disk to the agent (issue 5): a store that takes nothing for a while never makes
 * the controller hold more than ~2 MiB of an agent's output; the agent's command waits instead, and every byte arrives.
 */
describe('a slow store (real controller, agent and a FIFO as the output file)', function () {
  this.timeout(60_000);
  const fx = new Fixtures();
  afterEach(() => fx.cleanup());

  it('holds at most ~2 MiB of unstored output while the output file takes nothing, then stores every byte', async () => {
    const dataDir = await fx.tempDir();
    const controller = await fx.controller({ dataDir });
    await fx.agent(controller, 'slow-1');
    const admin = await fx.adminToken(controller);
    const size = 40_000_000;
    const job = await createJob(controller, admin, {
      command: `sleep 1; yes ${'y'.repeat(63)} | head -c ${size}`,
      target: ['slow-1'],
    });
    const read = await stalledOutputFile(dataDir, job.id, controller, admin);
    let most = 0;
    const sample = setInterval(() => (most = Math.max(most, controller.unstoredOutputBytes())), 10);
    fx.defer(() => clearInterval(sample));
    await waitFor(() => controller.unstoredOutputBytes() > 2 * 1024 * 1024, 'output waiting to be stored', 20_000);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    // Past 2 MiB the agent's connection is paused: what is held stays near the bound while nothing is stored.
    expect(most).to.be.at.most(3 * 1024 * 1024);
    expect((await controller.jobs.get(job.id)).status).to.equal('running');

    const stored = read();
    const done = await finishedJob(controller, admin, job.id);
    expect(done.runs[0]?.status).to.equal('succeeded');
    expect(done.runs[0]?.stdoutBytes).to.equal(size);
    await waitFor(() => stored() === size || undefined, 'every byte through the output file', 20_000);
    expect(most).to.be.at.most(3 * 1024 * 1024);
  });

  it('keeps the agent connected while its output waits for the store longer than the heartbeat allows', async () => {
    // A ping every second, a second for its pong: the stall below lasts 3 times the 2 s after which an unanswered
    // ping closes the connection. While the controller does not read the agent's connection, the agent's pongs wait
    // unread behind its output. (Tighter than a second, a loaded machine's event-loop delay alone closes it.)
    const dataDir = await fx.tempDir();
    const controller = await fx.controller({ dataDir, heartbeat: { intervalMs: 1000, timeoutMs: 1000 } });
    const agent = await fx.agent(controller, 'slow-2');
    let detached = 0;
    const detach = agent.manager.detach.bind(agent.manager);
    agent.manager.detach = () => {
      detached++;
      detach();
    };
    const admin = await fx.adminToken(controller);
    const size = 20_000_000;
    const job = await createJob(controller, admin, {
      command: `sleep 1; yes ${'y'.repeat(63)} | head -c ${size}`,
      target: ['slow-2'],
    });
    const read = await stalledOutputFile(dataDir, job.id, controller, admin);
    await waitFor(() => controller.unstoredOutputBytes() > 2 * 1024 * 1024, 'output waiting to be stored', 20_000);
    await new Promise((resolve) => setTimeout(resolve, 6000));
    expect(detached, 'the agent lost its connection during the stall').to.equal(0);
    expect((await controller.agents.list()).find((a) => a.name === 'slow-2')?.status).to.equal('online');

    const stored = read();
    const done = await finishedJob(controller, admin, job.id);
    expect(done.runs[0]?.status).to.equal('succeeded');
    expect(done.runs[0]?.stdoutBytes).to.equal(size);
    await waitFor(() => stored() === size || undefined, 'every byte through the output file', 20_000);
    // Heartbeats resumed with the reads: the pongs that waited were taken, and the next ones too.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(detached, 'the agent lost its connection after the stall').to.equal(0);
  });

  /**
   * Makes the run's stdout output file a FIFO nobody reads yet, so the controller's first write to it waits; returns
   * the function that starts reading it (which returns the bytes read so far). The FIFO always gets a reader before
   * the controller closes (its write to it would wait forever).
   */
  async function stalledOutputFile(dataDir: string, jobId: string, controller: RunningController, admin: string) {
    const dir = join(dataDir, 'output', jobId);
    await mkdir(dir, { recursive: true });
    const fifo = join(dir, `${jobId}_0.stdout`);
    execFileSync('mkfifo', [fifo]);
    let stored = 0;
    let reader: ReturnType<typeof createReadStream> | undefined;
    const read = () => {
      reader ??= createReadStream(fifo).on('data', (chunk) => (stored += chunk.length));
      return () => stored;
    };
    fx.defer(() => {
      read();
      return finishedJob(controller, admin, jobId).then(
        () => void reader?.destroy(),
        () => void reader?.destroy(),
      );
    });
    return read;
  }
});

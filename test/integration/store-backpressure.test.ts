import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
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
    // The run's output file is a FIFO nobody reads yet: the controller's first write to it waits.
    const dir = join(dataDir, 'output', job.id);
    await mkdir(dir, { recursive: true });
    const fifo = join(dir, `${job.id}_0.stdout`);
    execFileSync('mkfifo', [fifo]);
    let stored = 0;
    let reader: ReturnType<typeof createReadStream> | undefined;
    const read = () => {
      reader ??= createReadStream(fifo).on('data', (chunk) => (stored += chunk.length));
    };
    // Whatever happens, the FIFO gets a reader before the controller closes (its write to it would wait forever).
    fx.defer(() => {
      read();
      return finishedJob(controller, admin, job.id).then(
        () => void reader?.destroy(),
        () => void reader?.destroy(),
      );
    });

    let most = 0;
    const sample = setInterval(() => (most = Math.max(most, controller.unstoredOutputBytes())), 10);
    fx.defer(() => clearInterval(sample));
    await waitFor(() => controller.unstoredOutputBytes() > 2 * 1024 * 1024, 'output waiting to be stored', 20_000);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    // Past 2 MiB the agent's connection is paused: what is held stays near the bound while nothing is stored.
    expect(most).to.be.at.most(3 * 1024 * 1024);
    expect((await controller.jobs.get(job.id)).status).to.equal('running');

    read();
    const done = await finishedJob(controller, admin, job.id);
    expect(done.runs[0]?.status).to.equal('succeeded');
    expect(done.runs[0]?.stdoutBytes).to.equal(size);
    await waitFor(() => stored === size || undefined, 'every byte through the output file', 20_000);
    expect(most).to.be.at.most(3 * 1024 * 1024);
  });
});

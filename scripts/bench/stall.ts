import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Job } from '../../src/domain/model.js';
import { TcpProxy } from '../../test/helpers/tcp-proxy.js';
import { sleep, type Benchmark } from './lib/bench.js';
import { AGENT_PASSWORD, api, prepareDataDir, startController, tokenIssuer, waitOnline } from './lib/fleet.js';
import { spread } from './lib/figures.js';
import { BIN, ROOT, RssSampler, rssMb, start, stop } from './lib/proc.js';

const MIB = 1024 * 1024;
/** Writes 1 MiB blocks to stdout for ever (waiting while the pipe is full), and after each the count so far. */
const WRITER = [
  'const fs = require("fs"); const b = Buffer.alloc(1 << 20, 120); const nap = new Int32Array(new SharedArrayBuffer(4));',
  'for (let n = 1; ; n++) {',
  '  for (let off = 0; off < b.length; ) {',
  '    try { off += fs.writeSync(1, b, off); } catch (e) { if (e.code !== "EAGAIN") throw e; Atomics.wait(nap, 0, 0, 5); }',
  '  }',
  '  fs.writeFileSync(process.argv[1], String(n));',
  '}',
].join(' ');

/**
 * A real `agent run` whose link to the controller stops taking anything (a TCP proxy stops reading it: a frozen
 * controller, a dead route) while its command writes as fast as it can: how much the agent holds meanwhile.
 * Backpressure (issue 5) means the command waits on its pipe and the agent's memory stays flat.
 */
export const stall: Benchmark = {
  name: 'stall',
  summary: "an agent's link stalls for 10 s while `yes` runs: the agent's RSS growth and what the command got to write",
  async run(ctx) {
    const stallMs = ctx.smoke ? 1000 : 10_000;
    const dataDir = await ctx.sub('data');
    const secret = await prepareDataDir(dataDir, ['sl-1']);
    const controller = await startController(dataDir);
    const proxy = new TcpProxy(controller.port);
    const via = await proxy.listen();
    const startAgent = () =>
      start(
        process.execPath,
        [BIN, 'agent', 'run', '--controller', via, '--name', 'sl-1', '--state-dir', join(ctx.dir, 'state')],
        { cwd: ROOT, env: { ...process.env, OGENT_PASSWORD: AGENT_PASSWORD, OGENT_LOG_LEVEL: 'error' } },
      );
    let agent: ReturnType<typeof start> | undefined;
    try {
      const token = await tokenIssuer(secret)('admin', 'admin');
      const growth: number[] = [];
      const before: number[] = [];
      const written: number[] = [];
      const count = join(ctx.dir, 'count');
      for (let round = 0; round < ctx.reps(3); round++) {
        // A fresh agent each round: a process's RSS does not shrink back after a round that grew it.
        agent = startAgent();
        await waitOnline(controller.url, token, 1);
        // 1 MiB a write (blocking, as to any pipe), and after each the MiB written so far.
        const { body: job } = await api<Job>(controller.url, token, '/api/v1/jobs', 'POST', {
          command: `exec ${process.execPath} -e '${WRITER}' ${count}`,
          target: ['sl-1'],
          timeoutMs: 120_000,
        });
        const stored = async () => (await api<Job>(controller.url, token, `/api/v1/jobs/${job.id}`)).body;
        for (let t = Date.now(); !(await stored()).runs[0]?.stdoutBytes; await sleep(50)) {
          if (Date.now() - t > 30_000) throw new Error('no output stored in 30 s');
        }
        await sleep(1000);
        const pid = agent.pid as number;
        const rss0 = rssMb(pid);
        const storedBefore = (await stored()).runs[0]?.stdoutBytes ?? 0;
        proxy.stall('up');
        const sampler = new RssSampler(pid, 50);
        await sleep(stallMs);
        const { peak } = sampler.stop();
        const writes = Number((await readFile(count, 'utf8').catch(() => '0')).trim() || 0);
        proxy.release('up');
        await api(controller.url, token, `/api/v1/jobs/${job.id}/cancel`, 'POST');
        for (let t = Date.now(); (await stored()).status === 'running'; await sleep(100)) {
          if (Date.now() - t > 60_000) throw new Error('the job did not end in 60 s after its cancel');
        }
        await stop(agent);
        before.push(rss0);
        growth.push(peak - rss0);
        written.push((writes * MIB - storedBefore) / 1e6);
      }
      ctx.add(
        {
          key: 'stall.agent_rss_growth_mb',
          label: `agent RSS growth while its link takes nothing for ${stallMs / 1000} s, command writing flat out`,
          unit: 'MB',
          value: spread(growth),
          floor: { label: 'agent RSS just before the stall', value: spread(before) },
        },
        {
          key: 'stall.unsent_mb',
          label: '  what the command wrote that the controller had not stored when the stall began, by its end',
          unit: 'MB',
          value: spread(written),
        },
      );
    } finally {
      if (agent) await stop(agent);
      proxy.close();
      await controller.stop();
    }
  },
};

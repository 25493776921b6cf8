import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Job } from '../../src/domain/model.js';
import { interleave, type Benchmark } from './lib/bench.js';
import { cliEnv, prepareDataDir, startController, tokenIssuer, waitOnline } from './lib/fleet.js';
import { spread, type Figure, type Spread } from './lib/figures.js';
import { BIN, ROOT, node, timed } from './lib/proc.js';

/** Where the --local process's extra time goes: loading, starting and stopping the embedded parts (lib/, in a fresh node). */
const PHASES = `
const t0 = performance.now();
const { startEmbedded } = await import('./lib/controller/embedded.js');
const { silentLogger } = await import('./lib/lib/log.js');
const t1 = performance.now();
const run = await startEmbedded({ log: silentLogger });
const t2 = performance.now();
await run.stop();
const t3 = performance.now();
process.stdout.write(JSON.stringify({ load: t1 - t0, start: t2 - t1, stop: t3 - t2 }));
`;

const sum = (a: Spread, b: Spread): Spread => ({
  median: a.median + b.median,
  min: a.min + b.min,
  max: a.max + b.max,
  n: Math.min(a.n, b.n),
});

/**
 * `exec --local -- true` (issue 30): the whole process, which starts a controller and an agent inside itself, runs the
 * job and stops both, against `exec -t NAME -- true` to a controller already running with `--local-agent`.
 */
export const local: Benchmark = {
  name: 'local',
  summary: '`exec --local --json true` start to exit, against `exec` to a running controller with a local agent',
  async run(ctx) {
    const dataDir = await ctx.sub('data');
    const secret = await prepareDataDir(dataDir, []);
    const controller = await startController(dataDir, 0, ['--local-agent', '--local-agent-name', 'lb-1']);
    try {
      const token = await tokenIssuer(secret)('admin', 'admin');
      await waitOnline(controller.url, token, 1);
      const remoteEnv = cliEnv(controller.url, token);
      // --local from a clean HOME and its own TMPDIR, with no controller or credentials in the environment.
      const home = await ctx.sub('home');
      const tmp = join(home, 'tmp');
      await mkdir(tmp);
      const localEnv: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home, TMPDIR: tmp, NO_COLOR: '1' };
      const samples: Record<string, number[]> = {
        node: [],
        true: [],
        local: [],
        remote: [],
        localJob: [],
        remoteJob: [],
        load: [],
        start: [],
        stop: [],
      };
      const exec = (key: 'local' | 'remote', keep: boolean) => async () => {
        const args = key === 'local' ? ['exec', '--local', '--json', 'true'] : ['exec', '-t', 'lb-1', '--json', 'true'];
        const r = await node([BIN, ...args], { cwd: ROOT, env: key === 'local' ? localEnv : remoteEnv });
        if (r.code !== 0) throw new Error(`exec ${key} exited ${r.code}: ${r.stderr}`);
        const job = JSON.parse(r.stdout) as Job;
        if (job.status !== 'succeeded') throw new Error(`job ${job.id} ${job.status}`);
        if (!keep) return;
        samples[key]?.push(r.ms);
        samples[`${key}Job`]?.push(Date.parse(job.finishedAt ?? '') - Date.parse(job.createdAt));
      };
      const measure = (key: string, run: () => Promise<{ ms: number; code: number | null }>) => async () => {
        const r = await run();
        if (r.code !== 0) throw new Error(`${key} exited ${r.code}`);
        samples[key]?.push(r.ms);
      };
      ctx.log('warming up');
      await exec('local', false)();
      await exec('remote', false)();
      const reps = ctx.reps(15, 1);
      ctx.log(`${reps} interleaved rounds: node -e 0, true, exec --local, exec to a running controller`);
      await interleave(reps, [
        measure('node', () => node(['-e', '0'])),
        measure('true', () => timed('true', [])),
        exec('local', true),
        exec('remote', true),
        async () => {
          const r = await node(['--input-type=module', '-e', PHASES], { cwd: ROOT, env: localEnv });
          if (r.code !== 0) throw new Error(`the phases script exited ${r.code}: ${r.stderr}`);
          const phases = JSON.parse(r.stdout) as Record<string, number>;
          for (const key of ['load', 'start', 'stop']) samples[key]?.push(phases[key] ?? NaN);
        },
      ]);
      const s = (key: string) => spread(samples[key] ?? []);
      const floor = { label: 'node -e 0 + spawn true', value: sum(s('node'), s('true')) };
      const figures: Figure[] = [
        {
          key: 'local.exec_ms',
          label: 'exec --local --json true (whole process: controller and agent start and stop inside it)',
          unit: 'ms',
          value: s('local'),
          floor,
        },
        {
          key: 'local.remote_exec_ms',
          label: 'exec -t lb-1 --json true to a running controller with --local-agent (whole process)',
          unit: 'ms',
          value: s('remote'),
          floor,
        },
        {
          key: 'local.job_ms',
          label: 'the --local job inside its controller (created → done)',
          unit: 'ms',
          value: s('localJob'),
        },
        { key: 'local.remote_job_ms', label: 'the remote job (created → done)', unit: 'ms', value: s('remoteJob') },
        {
          key: 'local.load_ms',
          label: '--local: import controller/embedded.js (controller and agent modules)',
          unit: 'ms',
          value: s('load'),
        },
        {
          key: 'local.start_ms',
          label: '--local: startEmbedded (store, admin and agent users, listen, agent connected)',
          unit: 'ms',
          value: s('start'),
        },
        {
          key: 'local.stop_ms',
          label: '--local: stop (agent, controller close, store removed)',
          unit: 'ms',
          value: s('stop'),
        },
      ];
      return figures;
    } finally {
      await controller.stop();
    }
  },
};

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Job } from '../../src/domain/model.js';
import { interleave, type Benchmark } from './lib/bench.js';
import { AGENT_PASSWORD, cliEnv, prepareDataDir, startController, tokenIssuer, waitOnline } from './lib/fleet.js';
import { spread, type Figure, type Spread } from './lib/figures.js';
import { BIN, ROOT, node, start, stop, timed } from './lib/proc.js';

const sum = (a: Spread, b: Spread): Spread => ({
  median: a.median + b.median,
  min: a.min + b.min,
  max: a.max + b.max,
  n: Math.min(a.n, b.n),
});

/** The single executable (`npm run package`), when it has been built: the same command, bundled. */
const SEA = join(ROOT, 'dist', 'ogent-linux-x64');

/** One whole `ogent exec -t one --json true` process against a real controller and a real `agent run` (issue 2, 11). */
export const roundtrip: Benchmark = {
  name: 'roundtrip',
  summary: '`exec -t one --json true` start to exit, `--version`, and where start-up goes',
  async run(ctx) {
    const dataDir = await ctx.sub('data');
    const secret = await prepareDataDir(dataDir, ['rt-1']);
    const controller = await startController(dataDir);
    const agent = start(
      process.execPath,
      [BIN, 'agent', 'run', '--controller', controller.url, '--name', 'rt-1', '--state-dir', join(ctx.dir, 'state')],
      { cwd: ROOT, env: { ...process.env, OGENT_PASSWORD: AGENT_PASSWORD, OGENT_LOG_LEVEL: 'error' } },
    );
    try {
      const token = await tokenIssuer(secret)('admin', 'admin');
      await waitOnline(controller.url, token, 1);
      const env = cliEnv(controller.url, token);
      const samples: Record<string, number[]> = {
        node: [],
        true: [],
        exec: [],
        version: [],
        oclif: [],
        commands: [],
        job: [],
        seaExec: [],
        seaVersion: [],
      };
      const sea = existsSync(SEA) && process.arch === 'x64' && process.platform === 'linux';
      const exec = async (keep: boolean) => {
        const r = await node([BIN, 'exec', '-t', 'rt-1', '--json', 'true'], { cwd: ROOT, env });
        if (r.code !== 0) throw new Error(`exec exited ${r.code}: ${r.stderr}`);
        const job = JSON.parse(r.stdout) as Job;
        if (job.status !== 'succeeded') throw new Error(`job ${job.id} ${job.status}`);
        if (!keep) return;
        samples.exec?.push(r.ms);
        samples.job?.push(Date.parse(job.finishedAt ?? '') - Date.parse(job.createdAt));
      };
      const measure = (key: string, run: () => Promise<{ ms: number; code: number | null }>) => async () => {
        const r = await run();
        if (r.code !== 0) throw new Error(`${key} exited ${r.code}`);
        samples[key]?.push(r.ms);
      };
      ctx.log('warming up');
      await exec(false);
      await exec(false);
      const reps = ctx.reps(20, 3);
      ctx.log(`${reps} interleaved rounds: node -e 0, true, exec, --version, module loads`);
      await interleave(reps, [
        measure('node', () => node(['-e', '0'])),
        measure('true', () => timed('true', [])),
        () => exec(true),
        measure('version', () => node([BIN, '--version'], { cwd: ROOT, env })),
        measure('oclif', () => node(['--input-type=module', '-e', "await import('@oclif/core')"], { cwd: ROOT })),
        measure('commands', () =>
          node(['--input-type=module', '-e', "await import('./lib/commands/exec.js')"], { cwd: ROOT }),
        ),
        ...(sea
          ? [
              measure('seaExec', () => timed(SEA, ['exec', '-t', 'rt-1', '--json', 'true'], { env })),
              measure('seaVersion', () => timed(SEA, ['--version'], { env })),
            ]
          : []),
      ]);
      const s = (key: string) => spread(samples[key] ?? []);
      const floor = sum(s('node'), s('true'));
      const execMs = s('exec');
      const figures: Figure[] = [
        {
          key: 'roundtrip.exec_ms',
          label: 'exec -t one --json true (whole process)',
          unit: 'ms',
          value: execMs,
          floor: { label: 'node -e 0 + spawn true', value: floor },
          goal: {
            text: '≤ 150 ms and ≤ 3× floor',
            met: execMs.median <= 150 && execMs.median <= 3 * floor.median,
          },
        },
        {
          key: 'roundtrip.version_ms',
          label: 'ogent --version',
          unit: 'ms',
          value: s('version'),
          floor: { label: 'node -e 0', value: s('node') },
        },
        { key: 'roundtrip.node_ms', label: 'node -e 0', unit: 'ms', value: s('node') },
        { key: 'roundtrip.true_ms', label: 'spawn true', unit: 'ms', value: s('true') },
        {
          key: 'roundtrip.oclif_import_ms',
          label: 'node + import @oclif/core',
          unit: 'ms',
          value: s('oclif'),
          floor: { label: 'node -e 0', value: s('node') },
        },
        {
          key: 'roundtrip.exec_import_ms',
          label: 'node + import lib/commands/exec.js (what exec loads; commands load when they run)',
          unit: 'ms',
          value: s('commands'),
          floor: { label: 'node -e 0', value: s('node') },
        },
        {
          key: 'roundtrip.job_ms',
          label: 'the job inside the controller (created → done)',
          unit: 'ms',
          value: s('job'),
        },
      ];
      if (sea) {
        const seaExec = s('seaExec');
        figures.push(
          {
            key: 'roundtrip.sea_exec_ms',
            label: 'the same exec, single executable dist/ogent-linux-x64',
            unit: 'ms',
            value: seaExec,
            floor: { label: 'node -e 0 + spawn true', value: floor },
            goal: {
              text: '≤ 150 ms and ≤ 3× floor',
              met: seaExec.median <= 150 && seaExec.median <= 3 * floor.median,
            },
          },
          {
            key: 'roundtrip.sea_version_ms',
            label: 'ogent --version, single executable',
            unit: 'ms',
            value: s('seaVersion'),
            floor: { label: 'node -e 0', value: s('node') },
          },
        );
      }
      return figures;
    } finally {
      await stop(agent);
      await controller.stop();
    }
  },
};

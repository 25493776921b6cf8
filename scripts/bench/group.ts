import { join } from 'node:path';
import type { Job } from '../../src/domain/model.js';
import type { Benchmark } from './lib/bench.js';
import { agentNames, api, cliEnv, prepareDataDir, startController, tokenIssuer } from './lib/fleet.js';
import { spread } from './lib/figures.js';
import { BIN, ROOT, timed } from './lib/proc.js';
import { Swarms } from './lib/swarms.js';
import { swarmProcesses } from './fanout.js';

/** ~1 KB on stdout: the same on every agent, or its own on each (the shell's pid, padded with zeros). */
const COMMANDS = { shared: "printf '%01000d\\n' 7", distinct: "printf '%01000d\\n' $$" } as const;

interface GroupsJson {
  id: string;
  groups: { count: number }[];
}

/**
 * `exec --all --group --json` over 1,000 agents (issue 24): what the grouping costs at the end of a job, as the time
 * from the job's `finishedAt` (its document) to the exec process's exit, and the exec process's peak RSS
 * (`/usr/bin/time -f %M`); with 1,000 distinct outputs and with one shared by all.
 */
export const group: Benchmark = {
  name: 'group',
  summary: '`exec --all --group --json` over 1,000 agents: job end → exec exit, and exec peak RSS',
  async run(ctx) {
    const size = ctx.smoke ? 4 : 1000;
    const dataDir = await ctx.sub('data');
    const secret = await prepareDataDir(dataDir, agentNames('gr', size));
    const controller = await startController(dataDir);
    let swarms: Swarms | undefined;
    try {
      swarms = await Swarms.agents(
        {
          url: controller.url,
          prefix: 'gr',
          stateRoot: join(ctx.dir, 'state'),
          tokens: { mode: 'issue', secret: secret.toString('base64') },
        },
        size,
        swarmProcesses(size),
      );
      swarms.go();
      await swarms.allAttached();
      const token = await tokenIssuer(secret)('admin', 'admin');
      const env = cliEnv(controller.url, token);
      type Sample = { tail: number[]; rss: number[]; groups: number };
      const fresh = (): Sample => ({ tail: [], rss: [], groups: 0 });
      /** `--group --json`, and its floor: the same job as `--json` (the job document, no grouping). */
      const samples = {
        distinct: { group: fresh(), json: fresh() },
        shared: { group: fresh(), json: fresh() },
      };
      const exec = async (kind: keyof typeof COMMANDS, mode: 'group' | 'json', keep: boolean) => {
        const flags = mode === 'group' ? ['--group', '--json'] : ['--json'];
        const r = await timed(
          '/usr/bin/time',
          ['-f', '%M', process.execPath, BIN, 'exec', '--all', ...flags, '--', COMMANDS[kind]],
          { cwd: ROOT, env, timeoutMs: 300_000, keep: 64 << 20 },
        );
        const exited = Date.now();
        const out = JSON.parse(r.stdout || '{}') as GroupsJson & Partial<Job>;
        const total = mode === 'group' ? out.groups?.reduce((n, g) => n + g.count, 0) : out.runs?.length;
        if (r.code !== 0 || !out.id || total !== size) {
          throw new Error(`exec ${flags.join(' ')} exited ${r.code} with ${total} runs: ${r.stderr.slice(-2000)}`);
        }
        if (!keep) return;
        const { body: job } = await api<Job>(controller.url, token, `/api/v1/jobs/${out.id}`);
        const sample = samples[kind][mode];
        sample.tail.push(exited - Date.parse(job.finishedAt ?? ''));
        sample.rss.push(Number(/(\d+)\s*$/.exec(r.stderr)?.[1]) / 1024);
        if (mode === 'group') sample.groups = out.groups.length;
      };
      await exec('distinct', 'group', false);
      const reps = ctx.reps(5);
      ctx.log(`${reps} rounds of exec --all --group --json and --json, distinct and shared output, ${size} agents`);
      for (let i = 0; i < reps; i++) {
        for (const kind of ['distinct', 'shared'] as const) {
          await exec(kind, 'group', true);
          await exec(kind, 'json', true);
        }
      }
      for (const kind of ['distinct', 'shared'] as const) {
        const { group: g, json } = samples[kind];
        const tail = spread(g.tail);
        const rss = spread(g.rss);
        const what = `${size} agents, ${g.groups} group(s)`;
        const floor = `the same job, exec --json`;
        ctx.add(
          {
            key: `group.${kind}.end_to_exit_ms`,
            label: `exec --group, ${what}: job finishedAt → exec exit`,
            unit: 'ms',
            value: tail,
            floor: { label: floor, value: spread(json.tail) },
            goal: { text: '≤ 500 ms', met: tail.median <= 500 },
          },
          {
            key: `group.${kind}.peak_rss_mb`,
            label: `exec --group, ${what}: exec peak RSS`,
            unit: 'MB',
            value: rss,
            floor: { label: floor, value: spread(json.rss) },
            goal: { text: '≤ 150 MB', met: rss.median <= 150 },
          },
        );
      }
    } finally {
      await swarms?.stop();
      await controller.stop();
    }
  },
};

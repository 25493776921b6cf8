import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { STDIN_LIMITS } from '../../src/protocol/stdin.js';
import { interleave, type Benchmark } from './lib/bench.js';
import {
  AGENT_PASSWORD,
  agentNames,
  cliEnv,
  prepareDataDir,
  startController,
  tokenIssuer,
  waitOnline,
} from './lib/fleet.js';
import { spread, type Figure } from './lib/figures.js';
import { BIN, profileArgs, ROOT, node, start, stop, timed } from './lib/proc.js';

/** What every run does with its stdin: counts it (cheap, so the transfer is what is measured). */
const COMMAND = 'wc -c';

/**
 * A file piped into `exec` (README, Standard input), to 1 and to 10 agents: the client uploads it once, each agent
 * pulls it from the controller. The floor is `cat FILE | wc -c` on this machine, in the same rounds. 100 MB is past
 * the 64 MiB bound of a job's stdin, so the file is 64 MB, just under it.
 */
export const stdin: Benchmark = {
  name: 'stdin',
  summary: 'a 64 MB file piped into exec, to 1 and to 10 agents, against `cat FILE | wc -c` locally',
  async run(ctx) {
    const size = ctx.smoke ? 1_000_000 : 64_000_000;
    if (size > STDIN_LIMITS.maxBytes) throw new Error('the bench file must fit the stdin bound');
    const mb = size / 1e6;
    const file = join(await ctx.sub('input'), 'input.txt');
    const line = `${'x'.repeat(99)}\n`;
    writeFileSync(file, line.repeat(size / line.length));
    const names = agentNames('in', 10);
    const dataDir = await ctx.sub('data');
    const secret = await prepareDataDir(dataDir, names);
    const controller = await startController(dataDir);
    const agents: ChildProcess[] = names.map((name) =>
      start(
        process.execPath,
        [
          ...profileArgs('agent'),
          BIN,
          'agent',
          'run',
          '--controller',
          controller.url,
          '--name',
          name,
          '--state-dir',
          join(ctx.dir, 'state', name),
        ],
        { cwd: ROOT, env: { ...process.env, OGENT_PASSWORD: AGENT_PASSWORD, OGENT_LOG_LEVEL: 'error' } },
      ),
    );
    try {
      const token = await tokenIssuer(secret)('admin', 'admin');
      await waitOnline(controller.url, token, names.length);
      const env = cliEnv(controller.url, token);
      const floor: number[] = [];
      const one: number[] = [];
      const ten: number[] = [];
      const run = async (target: string, count: number, into: number[]) => {
        const fd = openSync(file, 'r');
        try {
          const r = await node([...profileArgs('exec'), BIN, 'exec', '-t', target, '--no-tui', '--', COMMAND], {
            cwd: ROOT,
            env,
            timeoutMs: 600_000,
            stdio: [fd, 'pipe', 'pipe'],
          });
          const counts = r.stdout.trim().split('\n');
          if (r.code !== 0 || counts.length !== count || counts.some((c) => c.split(':')[1]?.trim() !== String(size))) {
            throw new Error(`exec exited ${r.code}: ${r.stdout.slice(0, 2000)} ${r.stderr.slice(-2000)}`);
          }
          into.push(mb / (r.ms / 1000));
        } finally {
          closeSync(fd);
        }
      };
      const floorRun = async () => {
        const r = await timed('sh', ['-c', `cat ${file} | ${COMMAND} > /dev/null`]);
        floor.push(mb / (r.ms / 1000));
      };
      const reps = ctx.reps(3);
      ctx.log(`${reps} interleaved rounds: ${mb} MB into \`${COMMAND}\` locally, on 1 agent, on 10 agents`);
      await interleave(reps, [floorRun, () => run('in-1', 1, one), () => run('in-*', 10, ten)]);
      const floorFig = { label: `cat ${mb}MB | ${COMMAND} (locally)`, value: spread(floor) };
      return [
        {
          key: 'stdin.one_agent_mb_s',
          label: `${mb} MB piped into exec → \`${COMMAND}\` on 1 agent (whole CLI process)`,
          unit: 'MB/s',
          value: spread(one),
          floor: floorFig,
        },
        {
          key: 'stdin.ten_agents_mb_s',
          label: `${mb} MB piped into exec → \`${COMMAND}\` on 10 agents (each reads all of it; the input's MB/s)`,
          unit: 'MB/s',
          value: spread(ten),
          floor: floorFig,
        },
      ] satisfies Figure[];
    } finally {
      await Promise.all(agents.map((a) => stop(a)));
      await controller.stop();
    }
  },
};

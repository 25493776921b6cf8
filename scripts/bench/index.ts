/**
 * `npm run bench [-- [--smoke] [--json] [--keep] [NAME...]]`: runs the benchmarks (all, or those named), each
 * against its floor measured in the same run. A table per benchmark on stdout, or with --json one JSON object.
 * Never part of `npm test` (test/e2e/bench-smoke.test.ts only checks the scripts still work, with --smoke).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { context, type Benchmark } from './lib/bench.js';
import { asJson, markdown, table, type Figure } from './lib/figures.js';
import { killAllNow, machine, ROOT, stopAll, timed } from './lib/proc.js';
import { connect } from './connect.js';
import { fanout } from './fanout.js';
import { fanoutRedis } from './fanout-redis.js';
import { group } from './group.js';
import { history } from './history.js';
import { local } from './local.js';
import { loginSpray } from './login.js';
import { roundtrip } from './roundtrip.js';
import { stall } from './stall.js';
import { store } from './store.js';
import { stdin } from './stdin.js';
import { stream } from './stream.js';
import { tui } from './tui.js';

const BENCHMARKS: Benchmark[] = [
  roundtrip,
  fanout,
  fanoutRedis,
  connect,
  stream,
  stdin,
  stall,
  store,
  tui,
  loginSpray,
  local,
  group,
  history,
];

const USAGE = `usage: npm run bench -- [--smoke] [--json|--markdown] [--keep] [--profile DIR] [--rounds N] [NAME...]
  NAME    ${BENCHMARKS.map((b) => b.name).join(', ')} (default: all)
  --smoke tiny sizes, one repetition: checks the scripts work
  --json  one JSON object of named figures on stdout (progress stays on stderr)
  --markdown  Markdown tables (for BENCHMARKS.md) instead of plain ones
  --keep  keep the scratch directory (data dirs, output)
  --profile DIR  controller and swarm processes write CPU profiles under DIR (see profile-summary.ts)
  --rounds N     at most N rounds of each figure and its floor (default: each benchmark's own, 3-20)
${BENCHMARKS.map((b) => `\n  ${b.name.padEnd(10)} ${b.summary}`).join('')}
`;

async function commit(): Promise<string> {
  const head = await timed('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT });
  const dirty = await timed('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT });
  return `${head.stdout.trim()}${dirty.stdout.trim() ? ' (with uncommitted changes)' : ''}`;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const profile = args.indexOf('--profile');
  if (profile !== -1) {
    const dir = args.splice(profile, 2)[1];
    if (!dir) {
      process.stderr.write(`bench: --profile needs a directory\n${USAGE}`);
      return 2;
    }
    process.env.OGENT_BENCH_PROFILE = resolve(dir);
  }
  const roundsAt = args.indexOf('--rounds');
  let maxRounds = Infinity;
  if (roundsAt !== -1) {
    maxRounds = Number(args.splice(roundsAt, 2)[1]);
    if (!Number.isInteger(maxRounds) || maxRounds < 1) {
      process.stderr.write(`bench: --rounds needs a whole number of rounds, 1 or more\n${USAGE}`);
      return 2;
    }
  }
  const flags = new Set(args.filter((a) => a.startsWith('--')));
  for (const flag of flags) {
    if (!['--smoke', '--json', '--markdown', '--keep'].includes(flag)) {
      process.stderr.write(`bench: unknown flag ${flag}\n${USAGE}`);
      return 2;
    }
  }
  const names = args.filter((a) => !a.startsWith('--'));
  const unknown = names.filter((n) => !BENCHMARKS.some((b) => b.name === n));
  if (unknown.length) {
    process.stderr.write(`bench: no benchmark named ${unknown.join(', ')}\n${USAGE}`);
    return 2;
  }
  const selected = names.length ? BENCHMARKS.filter((b) => names.includes(b.name)) : BENCHMARKS;
  const smoke = flags.has('--smoke');
  const json = flags.has('--json');
  const render = flags.has('--markdown') ? markdown : table;

  const scratch = await mkdtemp(join(tmpdir(), 'ogent-bench-'));
  const meta = { date: new Date().toISOString(), commit: await commit(), machine: machine(), smoke };
  if (!json) {
    const m = meta.machine;
    process.stdout.write(
      `ogent benchmarks ${meta.date}${smoke ? ' (SMOKE: tiny sizes, figures mean nothing)' : ''}\n` +
        `commit ${meta.commit}; ${m.nproc} cpus (${m.cpu}), ${m.memoryGiB} GiB, Node ${m.node}, load ${m.load}\n\n`,
    );
  }
  const figures: Figure[] = [];
  const errors: Record<string, string> = {};
  try {
    for (const bench of selected) {
      const dir = join(scratch, bench.name);
      const ctx = context(bench.name, dir, smoke, maxRounds);
      ctx.log(`start (load ${machine().load})`);
      const t0 = performance.now();
      let failure: string | undefined;
      try {
        ctx.add(...((await bench.run(ctx)) ?? []));
      } catch (err) {
        errors[bench.name] = (err as Error).stack ?? String(err);
        failure = (err as Error).message.split('\n')[0];
        process.stderr.write(`[${bench.name}] FAILED: ${errors[bench.name]}\n`);
      } finally {
        figures.push(...ctx.figures);
        if (!json) {
          process.stdout.write(
            `== ${bench.name}: ${bench.summary}${failure ? `\nFAILED: ${failure}` : ''}\n` +
              `${ctx.figures.length ? render(ctx.figures) : ''}\n`,
          );
        }
        // Whatever the benchmark left running (it failed half-way): stopped before the next one starts.
        await stopAll();
      }
      ctx.log(`done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
  } finally {
    await stopAll();
    if (!flags.has('--keep')) await rm(scratch, { recursive: true, force: true });
    else process.stderr.write(`bench: scratch kept in ${scratch}\n`);
  }
  const loadAfter = machine().load;
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ ...meta, loadAfter, figures: asJson(figures), ...(Object.keys(errors).length ? { errors } : {}) }, null, 2)}\n`,
    );
  } else {
    const goals = figures.filter((f) => f.goal);
    process.stdout.write(
      `load after: ${loadAfter}; goals met: ${goals.filter((f) => f.goal?.met).length} of ${goals.length}` +
        `${Object.keys(errors).length ? `; FAILED: ${Object.keys(errors).join(', ')}` : ''}\n`,
    );
  }
  return Object.keys(errors).length ? 1 : 0;
}

process.on('exit', killAllNow);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    killAllNow();
    process.exit(130);
  });
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`bench: ${err.stack}\n`);
    process.exit(1);
  },
);

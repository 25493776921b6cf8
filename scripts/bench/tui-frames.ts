/**
 * The live view's redraw rate and CPU under load (issue 3): `ogent exec` on a pseudo-terminal while AGENTS agents
 * each print a line every 100 ms for 10 s. Prints a Markdown block for BENCHMARKS.md.
 *
 *   npm run build && node --import tsx scripts/bench/tui-frames.ts [AGENTS=1000] [ROUNDS=3]
 *
 * A real controller and real agents (scripts/bench/swarm.ts: the agent code and its shell executor, running bash)
 * are niced, as if on other machines; `bin/run.js exec` runs under `script` (util-linux) on a 120×40 terminal, as a
 * user runs it. A frame is one synchronized-update block (`ESC[?2026h`) Ink writes to the terminal; the exec
 * process's CPU time and peak RSS come from the bench probe (lib/fleet.ts). `--no-tui` on the same terminal is the
 * floor. `npm run bench -- tui` measures the CPU alone, inside the bench suite. OGENT_BENCH_PROFILE=DIR writes
 * CPU profiles of the exec processes under DIR (scripts/bench/profile-summary.ts reads them).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Job } from '../../src/domain/model.js';
import { agentNames, cliEnv, PROBE_IMPORT, prepareDataDir, startController, tokenIssuer } from './lib/fleet.js';
import { BIN, killAllNow, machine, profileArgs, ROOT, stopAll, timed } from './lib/proc.js';
import { Swarms } from './lib/swarms.js';

const COLUMNS = 120;
const ROWS = 40;
const LINES = 100;
const SYNC_START = '\u001B[?2026h';

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

interface Run {
  cpuS: number;
  wallS: number;
  maxRssMb: number;
  frames: number;
  /** Frames in each whole second, counted from the first frame. */
  perSecond: number[];
  bytes: number;
  /** Job created → finished, s. */
  jobS: number;
}

async function main() {
  const agents = Number(process.argv[2] ?? 1000);
  const rounds = Number(process.argv[3] ?? 3);
  const before = machine();
  const dir = await mkdtemp(join(tmpdir(), 'ogent-tui-frames-'));
  const dataDir = join(dir, 'data');
  const secret = await prepareDataDir(dataDir, agentNames('tf', agents));
  const controller = await startController(dataDir);
  const fifo = join(dir, 'tick');
  const made = await timed('mkfifo', [fifo]);
  if (made.code !== 0) throw new Error(`mkfifo: ${made.stderr}`);
  // The swarms inherit it: their shell executor runs bash.
  process.env.OGENT_SHELL = '/bin/bash';
  const swarms = await Swarms.agents(
    {
      url: controller.url,
      prefix: 'tf',
      stateRoot: null,
      tokens: { mode: 'issue', secret: secret.toString('base64') },
    },
    agents,
    agents >= 500 ? 2 : 1,
  );
  swarms.go();
  await swarms.allAttached();
  process.stderr.write(`tui-frames: ${agents} agents registered\n`);
  // On other machines in real life: here they yield the cores to exec and its terminal.
  for (const pid of [controller.pid, ...swarms.pids]) setPriority(pid, 10);

  const token = await tokenIssuer(secret)('admin', 'admin');
  // bash's `read -t` on a FIFO nobody writes to waits 100 ms without starting a process per line.
  const streaming =
    `exec 3<>${quote(fifo)}; for ((i = 1; i <= ${LINES}; i++)); do printf -v now '%(%T)T' -1; ` +
    `echo "line $i of ${LINES} at $now, a few more words"; read -t 0.1 -u 3; done; exit 0`;

  const exec = async (live: boolean, command: string): Promise<Run> => {
    const probe = join(dir, 'probe.json');
    await rm(probe, { force: true });
    const args = ['exec', '-t', 'tf-*', '--timeout', '5m', ...(live ? [] : ['--no-tui']), '--', command];
    const line = `stty rows ${ROWS} cols ${COLUMNS}; exec ${[process.execPath, PROBE_IMPORT, ...profileArgs(live ? 'exec-live' : 'exec-plain'), BIN, ...args].map(quote).join(' ')}`;
    // A user's terminal: not CI (Ink draws only a last frame in CI), colours on.
    const env = cliEnv(controller.url, token, { TERM: 'xterm-256color', OGENT_BENCH_PROBE: probe });
    for (const k of ['CI', 'NO_COLOR', 'FORCE_COLOR', 'COLUMNS', 'LINES']) delete env[k];
    let first = 0;
    let frames = 0;
    let bytes = 0;
    let tail = '';
    let screen = '';
    const perSecond: number[] = [];
    const r = await timed('script', ['-qfec', line, '/dev/null'], {
      cwd: ROOT,
      env,
      keep: 0,
      timeoutMs: 300_000,
      onStdout: (chunk) => {
        const data = chunk.toString();
        bytes += chunk.length;
        screen = (screen + data).slice(-50_000);
        const text = tail + data;
        for (let at = text.indexOf(SYNC_START); at !== -1; at = text.indexOf(SYNC_START, at + 1)) {
          first ||= performance.now();
          const second = Math.floor((performance.now() - first) / 1000);
          perSecond[second] = (perSecond[second] ?? 0) + 1;
          frames++;
        }
        tail = text.slice(1 - SYNC_START.length);
      },
    });
    const usage = JSON.parse(await readFile(probe, 'utf8')) as { cpuS: number; maxRssMb: number; wallS: number };
    const id = /job (j\w+) (?:succeeded|failed|cancelled)/.exec(screen)?.[1];
    const res = id
      ? await fetch(`${controller.url}/api/v1/jobs/${id}`, { headers: { authorization: `Bearer ${token}` } })
      : null;
    const job = res ? ((await res.json()) as Job) : null;
    if (r.code !== 0 || job?.status !== 'succeeded' || !job.finishedAt) {
      throw new Error(`exec exited ${r.code}, job ${job?.status ?? 'not found'}:\n${screen.slice(-3000)}`);
    }
    const jobS = (Date.parse(job.finishedAt) - Date.parse(job.createdAt)) / 1000;
    return { ...usage, frames, perSecond: Array.from(perSecond, (n) => n ?? 0), bytes, jobS };
  };

  const live: Run[] = [];
  const plain: Run[] = [];
  const quiet: Run[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      live.push(await exec(true, streaming));
      plain.push(await exec(false, streaming));
      quiet.push(await exec(true, 'sleep 10'));
      process.stderr.write(`tui-frames: round ${i + 1} of ${rounds}\n`);
    }
  } finally {
    await swarms.stop();
    await controller.stop();
    await rm(dir, { recursive: true, force: true });
  }

  // Whole seconds while the job streams (the last one is partial).
  const steady = (r: Run) => r.perSecond.slice(0, Math.max(1, Math.floor(r.jobS)));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const range = (xs: number[], digits = 2) =>
    `${mean(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;
  const row = (label: string, runs: Run[], streams = true) =>
    [
      label,
      `${range(runs.map((r) => r.cpuS))} s`,
      `${range(
        runs.map((r) => r.wallS),
        1,
      )} s`,
      range(runs.map((r) => r.cpuS / r.wallS)),
      `${range(
        runs.map((r) => r.maxRssMb),
        0,
      )} MB`,
      `${range(
        runs.map((r) => r.jobS),
        1,
      )} s`,
      streams
        ? range(
            runs.map((r) => (agents * LINES) / r.jobS),
            0,
          )
        : '-',
    ].join(' | ');
  process.stdout.write(
    [
      `Machine: ${before.nproc} cores (${before.cpu}), ${before.memoryGiB} GiB, Node ${before.node}; ` +
        `load average before the run ${before.load}, after ${machine().load}.`,
      `Command: \`npm run build && node --import tsx scripts/bench/tui-frames.ts ${agents} ${rounds}\` — ` +
        `${agents} agents × ${LINES} lines, one every 100 ms (${(agents * 10).toLocaleString('en')} lines/s), ` +
        `exec on a ${COLUMNS}×${ROWS} pseudo-terminal, mean (min–max) of ${rounds} rounds.`,
      '',
      '| exec | CPU time | wall time | CPU / wall (cores) | peak RSS | the job, created → finished | lines/s delivered |',
      '|---|---|---|---|---|---|---|',
      `| ${row('live view', live)} |`,
      `| ${row('`--no-tui` (floor)', plain)} |`,
      `| ${row('live view, a quiet job (`sleep 10`)', quiet, false)} |`,
      '',
      `Live view redraws: ${range(
        live.map((r) => mean(steady(r))),
        1,
      )} frames/s while the job streams, ` +
        `at most ${Math.max(...live.flatMap(steady))} in any second; ` +
        `${range(
          live.map((r) => r.bytes / 1024 / Math.max(1, r.frames)),
          1,
        )} KiB written per frame.`,
      `Frames in each second, first round: ${live[0]?.perSecond.join(' ')}; the quiet job: ` +
        `${range(
          quiet.map((r) => mean(steady(r))),
          1,
        )} frames/s (its spinners).`,
      '',
    ].join('\n'),
  );
}

process.on('exit', killAllNow);
main().then(
  () => stopAll(),
  async (err: Error) => {
    process.stderr.write(`tui-frames: ${err.stack ?? err.message}\n`);
    await stopAll();
    process.exitCode = 1;
  },
);

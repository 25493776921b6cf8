import { readFile } from 'node:fs/promises';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import { interleave, type Benchmark } from './lib/bench.js';
import { agentNames, cliEnv, prepareDataDir, PROBE_IMPORT, startController, tokenIssuer } from './lib/fleet.js';
import { spread, type Figure } from './lib/figures.js';
import { BIN, ROOT, timed } from './lib/proc.js';
import { Swarms } from './lib/swarms.js';
import { swarmProcesses } from './fanout.js';

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
/** Ink wraps every frame in a synchronized update: one of these is one redraw. */
const SYNC_START = '\u001B[?2026h';

/**
 * A line every 100 ms for `seconds`, without a process per line: bash's `read -t` on a FIFO nobody writes to
 * (the method of scripts/bench/tui-frames.ts, which reports redraw rates in detail).
 */
const streamingCommand = (fifo: string, seconds: number) =>
  `exec bash -c ${quote(
    `exec 3<>${quote(fifo)}; for ((i = 1; i <= ${seconds * 10}; i++)); do ` +
      `echo "line $i of ${seconds * 10}, a few more words from a busy host"; read -t 0.1 -u 3; done; exit 0`,
  )}`;

interface Usage {
  cpuS: number;
  wallS: number;
  maxRssMb: number;
  /** Plain: output lines received. Live view: frames drawn. */
  count: number;
}

/**
 * CPU of the `exec` process drawing the live view on a pseudo-terminal (120×40, under `script`) while every agent
 * streams; `--no-tui` on a pipe is the reference. The controller and the agents are niced, as if on other machines.
 */
export const tui: Benchmark = {
  name: 'tui',
  summary: 'CPU of `exec` (live view in a pty, and plain) while 1,000 agents each stream a line every 100 ms',
  async run(ctx) {
    const agents = ctx.smoke ? 10 : 1000;
    const seconds = ctx.smoke ? 2 : 10;
    const dataDir = await ctx.sub('data');
    const secret = await prepareDataDir(dataDir, agentNames('tu', agents));
    const fifo = join(ctx.dir, 'tick');
    const made = await timed('mkfifo', [fifo]);
    if (made.code !== 0) throw new Error(`mkfifo: ${made.stderr}`);
    const controller = await startController(dataDir);
    let swarms: Swarms | undefined;
    try {
      swarms = await Swarms.agents(
        {
          url: controller.url,
          prefix: 'tu',
          stateRoot: null,
          tokens: { mode: 'issue', secret: secret.toString('base64') },
        },
        agents,
        swarmProcesses(agents),
      );
      swarms.go();
      await swarms.allAttached();
      for (const pid of [controller.pid, ...swarms.pids]) setPriority(pid, 10);
      const env = cliEnv(controller.url, await tokenIssuer(secret)('admin', 'admin'));
      const command = streamingCommand(fifo, seconds);
      let round = 0;
      const usage = async (mode: 'tui' | 'plain'): Promise<Usage> => {
        const probe = join(ctx.dir, `usage-${mode}-${++round}.json`);
        let count = 0;
        let tail = '';
        const argv = [process.execPath, PROBE_IMPORT, BIN, 'exec', '--all', ...(mode === 'plain' ? ['--no-tui'] : [])];
        const line = `${argv.map(quote).join(' ')} -- ${quote(command)}`;
        // A user's terminal: colours on, not CI (Ink draws only a last frame in CI).
        const runEnv: NodeJS.ProcessEnv = { ...env, OGENT_BENCH_PROBE: probe, TERM: 'xterm-256color' };
        for (const k of ['CI', 'NO_COLOR', 'FORCE_COLOR', 'COLUMNS', 'LINES']) delete runEnv[k];
        const r =
          mode === 'tui'
            ? await timed('script', ['-qefc', `stty cols 120 rows 40; exec ${line}`, '/dev/null'], {
                cwd: ROOT,
                env: runEnv,
                keep: 0,
                stdio: ['pipe', 'pipe', 'pipe'],
                timeoutMs: 300_000,
                onStdout: (chunk) => {
                  const text = tail + chunk.toString();
                  for (let at = text.indexOf(SYNC_START); at !== -1; at = text.indexOf(SYNC_START, at + 1)) count++;
                  tail = text.slice(1 - SYNC_START.length);
                },
              })
            : await timed('sh', ['-c', line], {
                cwd: ROOT,
                env: runEnv,
                keep: 0,
                timeoutMs: 300_000,
                onStdout: (chunk) => {
                  for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) count++;
                },
              });
        if (r.code !== 0) throw new Error(`exec (${mode}) exited ${r.code}: ${r.stderr.slice(-2000)}`);
        return { ...(JSON.parse(await readFile(probe, 'utf8')) as Omit<Usage, 'count'>), count };
      };
      const tuiRuns: Usage[] = [];
      const plainRuns: Usage[] = [];
      const reps = ctx.reps(3);
      ctx.log(`${reps} rounds: live view in a pty, then plain lines, ${agents} agents × ${seconds * 10} lines`);
      await interleave(reps, [
        async () => void tuiRuns.push(await usage('tui')),
        async () => void plainRuns.push(await usage('plain')),
      ]);
      const cores = (u: Usage) => u.cpuS / u.wallS;
      const tuiCores = spread(tuiRuns.map(cores));
      return [
        {
          key: 'tui.exec_cores',
          label: `exec live view, ${agents} agents streaming ${agents * 10} lines/s: CPU (cores)`,
          unit: 'cores',
          value: tuiCores,
          floor: { label: 'exec --no-tui, same stream', value: spread(plainRuns.map(cores)) },
          goal: { text: '≤ 0.5 core', met: tuiCores.median <= 0.5 },
        },
        {
          key: 'tui.frames_per_s',
          label: 'exec live view: redraws per second (whole process)',
          unit: 'frames/s',
          value: spread(tuiRuns.map((u) => u.count / u.wallS)),
        },
        {
          key: 'tui.lines_per_s',
          label: 'exec --no-tui: lines received per second (whole process)',
          unit: 'lines/s',
          value: spread(plainRuns.map((u) => u.count / u.wallS)),
        },
        {
          key: 'tui.exec_wall_s',
          label: 'exec live view: wall time of the whole process',
          unit: 's',
          value: spread(tuiRuns.map((u) => u.wallS)),
          floor: { label: 'exec --no-tui', value: spread(plainRuns.map((u) => u.wallS)) },
        },
        {
          key: 'tui.exec_max_rss_mb',
          label: 'exec live view: peak RSS',
          unit: 'MB',
          value: spread(tuiRuns.map((u) => u.maxRssMb)),
          floor: { label: 'exec --no-tui', value: spread(plainRuns.map((u) => u.maxRssMb)) },
        },
      ] satisfies Figure[];
    } finally {
      await swarms?.stop();
      await controller.stop();
    }
  },
};

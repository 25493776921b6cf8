import { closeSync, openSync, rmSync, statSync, watch } from 'node:fs';
import { join } from 'node:path';
import type { Job } from '../../src/domain/model.js';
import { interleave, type Benchmark } from './lib/bench.js';
import { AGENT_PASSWORD, api, cliEnv, prepareDataDir, startController, tokenIssuer, waitOnline } from './lib/fleet.js';
import { spread, type Figure } from './lib/figures.js';
import { BIN, profileArgs, ROOT, RssSampler, node, rssMb, start, stop, timed } from './lib/proc.js';
import { relayFloor } from './lib/relay-floor.js';

/** 99 characters and a newline: log-like lines, 1,000,000 of them in 100 MB. */
const LINE = 'x'.repeat(99);

/** One run writing 100 MB to stdout, through the real agent and controller, to a live `exec` and to `jobs logs`. */
export const stream: Benchmark = {
  name: 'stream',
  summary: 'one run writing 100 MB: live `exec` and `jobs logs` throughput, controller RSS growth',
  async run(ctx) {
    const size = ctx.smoke ? 1_000_000 : 100_000_000;
    const mb = size / 1e6;
    const command = `yes ${LINE} | head -c ${size}`;
    const dataDir = await ctx.sub('data');
    const secret = await prepareDataDir(dataDir, ['st-1']);
    const controller = await startController(dataDir);
    const agent = start(
      process.execPath,
      [
        ...profileArgs('agent'),
        BIN,
        'agent',
        'run',
        '--controller',
        controller.url,
        '--name',
        'st-1',
        '--state-dir',
        join(ctx.dir, 'state'),
      ],
      { cwd: ROOT, env: { ...process.env, OGENT_PASSWORD: AGENT_PASSWORD, OGENT_LOG_LEVEL: 'error' } },
    );
    try {
      const token = await tokenIssuer(secret)('admin', 'admin');
      await waitOnline(controller.url, token, 1);
      const env = cliEnv(controller.url, token);
      const floor: number[] = [];
      const live: number[] = [];
      const livePiped: number[] = [];
      const transfer: number[] = [];
      const firstByte: number[] = [];
      const stored: number[] = [];
      const logs: number[] = [];
      const growth: number[] = [];
      const relayText: number[] = [];
      const relayBinary: number[] = [];
      const agentPeak: number[] = [];
      let jobId = '';

      const outFile = join(dataDir, '..', 'live.out');
      /**
       * One live `exec`. Its stdout is a file, as the floor's is /dev/null: no process of the bench's sits in the
       * measured path. Through a pipe to this runner instead (`piped`), the runner is one more process on the 2
       * cores: whenever it is not scheduled for a moment the 64 KiB pipe fills, `exec` stops reading, the controller
       * drops its live output past 4 MiB and it catches up from the store (1–3 times a run here).
       */
      const liveRun = async (piped: boolean) => {
        const before = rssMb(controller.pid);
        const t0live = Date.now();
        const rss = new RssSampler(controller.pid, 20);
        const agentRss = new RssSampler(agent.pid as number, 50);
        let bytes = 0;
        let first = 0;
        let last = 0;
        const fd = piped ? undefined : openSync(outFile, 'w');
        // The first write to the file, seen by inotify.
        const watcher =
          fd === undefined
            ? undefined
            : watch(outFile, () => {
                first ||= Date.now();
                watcher?.close();
              });
        const r = await node([...profileArgs('exec'), BIN, 'exec', '-t', 'st-1', '--no-tui', '--', command], {
          cwd: ROOT,
          env,
          keep: 0,
          timeoutMs: 600_000,
          ...(fd === undefined ? {} : { stdio: ['ignore', fd, 'pipe'] }),
          // Bytes counted, not scanned (a JavaScript scan of a million lines took CPU from the processes measured).
          onStdout: (chunk) => {
            last = Date.now();
            first ||= last;
            bytes += chunk.length;
          },
        });
        if (fd !== undefined) {
          // The last byte was written before exec exited: its exit stands for it (a little late, never early).
          last = Date.now();
          watcher?.close();
          closeSync(fd);
          bytes = statSync(outFile).size;
          rmSync(outFile);
        }
        const peak = rss.stop().peak;
        if (process.env.OGENT_BENCH_MEMLOG) ctx.log(`live run ${t0live}..${Date.now()}: growth ${peak - before} MB`);
        agentPeak.push(agentRss.stop().peak);
        // Every 100-byte line once, with its `st-1: ` prefix: exactly this many bytes.
        const expected = size + (size / 100) * 'st-1: '.length;
        if (r.code !== 0 || bytes !== expected) {
          throw new Error(`exec exited ${r.code} after ${bytes} of ${expected} bytes: ${r.stderr.slice(-2000)}`);
        }
        if (piped) return void livePiped.push(mb / (r.ms / 1000));
        live.push(mb / (r.ms / 1000));
        growth.push(peak - before);
        const { body } = await api<{ jobs: Job[] }>(controller.url, token, '/api/v1/jobs?limit=1');
        const job = body.jobs[0] as Job;
        const run = job.runs[0];
        jobId = job.id;
        if (run?.startedAt && run.finishedAt) {
          stored.push(mb / ((Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 1000));
          // The same live run without the CLI's start-up: from the run's start on its agent to the last byte written.
          transfer.push(mb / ((last - Date.parse(run.startedAt)) / 1000));
          firstByte.push(first - t0live);
        }
      };
      const logsRun = async () => {
        let bytes = 0;
        const r = await node([...profileArgs('logs'), BIN, 'jobs', 'logs', jobId, '--agent', 'st-1'], {
          cwd: ROOT,
          env,
          keep: 0,
          timeoutMs: 600_000,
          onStdout: (chunk) => (bytes += chunk.length),
        });
        if (r.code !== 0 || bytes !== size)
          throw new Error(`jobs logs exited ${r.code} with ${bytes} of ${size} bytes`);
        logs.push(mb / (r.ms / 1000));
      };
      const floorRun = async () => {
        const r = await timed('sh', ['-c', `${command} > /dev/null`]);
        floor.push(mb / (r.ms / 1000));
      };
      // socket.io alone carrying the same output through three processes (sio-relay.ts), as text and as binary.
      const relayRun = async () => {
        relayText.push(await relayFloor(size, 'text'));
        relayBinary.push(await relayFloor(size, 'binary'));
      };
      const reps = ctx.reps(3);
      ctx.log(`${reps} interleaved rounds: ${mb} MB locally to /dev/null, live exec, jobs logs, socket.io relay`);
      await interleave(reps, [floorRun, () => liveRun(false), logsRun, relayRun, () => liveRun(true)]);
      const relayFig = { label: 'socket.io relay alone, binary', value: spread(relayBinary) };
      const floorFig = { label: `yes | head -c ${mb}M > /dev/null`, value: spread(floor) };
      const liveS = spread(live);
      const logsS = spread(logs);
      const growthS = spread(growth);
      return [
        {
          key: 'stream.live_mb_s',
          label: `${mb} MB run → live exec --no-tui > FILE (whole CLI process, ${size / 100} lines)`,
          unit: 'MB/s',
          value: liveS,
          floor: floorFig,
          goal: { text: '≥ 50 MB/s', met: liveS.median >= 50 },
        },
        {
          key: 'stream.live_vs_relay_mb_s',
          label: `  the same live figure against socket.io alone relaying ${mb} MB as ogent sends it (binary, 3 processes)`,
          unit: 'MB/s',
          value: liveS,
          floor: relayFig,
        },
        {
          key: 'stream.live_transfer_mb_s',
          label: `  the same live run from the run's start on the agent to exec's exit (no CLI start-up)`,
          unit: 'MB/s',
          value: spread(transfer),
          floor: relayFig,
        },
        {
          key: 'stream.live_piped_mb_s',
          label: `  the same, exec's output read through a pipe by the bench runner`,
          unit: 'MB/s',
          value: spread(livePiped),
          floor: relayFig,
        },
        {
          key: 'stream.live_first_byte_ms',
          label: '  exec started → first output line printed (the CLI start-up, the job, the dispatch)',
          unit: 'ms',
          value: spread(firstByte),
        },
        {
          key: 'stream.relay_text_mb_s',
          label: `  socket.io alone relaying ${mb} MB as JSON strings (ogent's protocol before 2026-11-27)`,
          unit: 'MB/s',
          value: spread(relayText),
          floor: relayFig,
        },
        {
          key: 'stream.stored_mb_s',
          label: `${mb} MB run: started → result stored (agent → controller → disk)`,
          unit: 'MB/s',
          value: spread(stored),
          floor: floorFig,
        },
        {
          key: 'stream.logs_mb_s',
          label: `jobs logs of the ${mb} MB run (whole CLI process)`,
          unit: 'MB/s',
          value: logsS,
          floor: floorFig,
          goal: { text: '≥ 50 MB/s', met: logsS.median >= 50 },
        },
        {
          key: 'stream.controller_rss_growth_mb',
          label: 'controller RSS growth during the live run',
          unit: 'MB',
          value: growthS,
          goal: { text: '≤ 100 MB (worst round)', met: growthS.max <= 100 },
        },
        {
          key: 'stream.agent_peak_rss_mb',
          label: 'agent peak RSS during the run',
          unit: 'MB',
          value: spread(agentPeak),
        },
      ] satisfies Figure[];
    } finally {
      await stop(agent);
      await controller.stop();
    }
  },
};

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { newId } from '../../src/domain/ids.js';
import type { Job, Run } from '../../src/domain/model.js';
import { summarize } from '../../src/domain/run-state.js';
import { interleave, sleep, type Benchmark } from './lib/bench.js';
import { agentNames, api, cliEnv, prepareDataDir, startController, tokenIssuer } from './lib/fleet.js';
import { one, percentile, spread, type Figure } from './lib/figures.js';
import { BIN, ROOT, node } from './lib/proc.js';
import { Swarms } from './lib/swarms.js';
import { swarmProcesses } from './fanout.js';

/**
 * `count` finished jobs of 10 runs each, a minute apart (the newest now), written as the store writes them (one file per
 * job; finished jobs need no entry in the unfinished-jobs index).
 */
export async function retainedJobs(dataDir: string, count: number): Promise<void> {
  const dir = join(dataDir, 'jobs');
  await mkdir(dir, { recursive: true });
  const first = Date.now() - count * 60_000;
  for (let i = 0; i < count; i += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, count - i) }, async (_, k) => {
        const at = first + (i + k) * 60_000;
        const id = newId('j', at);
        const iso = (ms: number) => new Date(ms).toISOString();
        const runs: Run[] = Array.from({ length: 10 }, (_, r) => ({
          id: `${id}_${r}`,
          agent: { id: `00000000-0000-4000-8000-${String(r).padStart(12, '0')}`, name: `sj-${r + 1}` },
          status: 'succeeded',
          exitCode: 0,
          signal: null,
          stdout: ' 12:00:00 up 3 days,  2:03,  0 users,  load average: 0.08, 0.03, 0.01\n',
          stderr: '',
          seq: 1,
          stdoutBytes: 70,
          stderrBytes: 0,
          dispatchedAt: iso(at + 2),
          startedAt: iso(at + 5),
          finishedAt: iso(at + 20),
          durationMs: 15,
        }));
        const job: Job = {
          id,
          command: 'uptime',
          executor: 'shell',
          target: ['sj-*'],
          timeoutMs: 300_000,
          status: 'succeeded',
          createdBy: 'admin',
          createdAt: iso(at),
          finishedAt: iso(at + 25),
          runs,
          summary: summarize(runs),
        };
        await writeFile(join(dir, `${id}.json`), JSON.stringify(job));
      }),
    );
  }
}

/** 10,000 retained jobs: listing, creating, persisting results, and the event loop during a 1,000-agent job. */
export const store: Benchmark = {
  name: 'store',
  summary: '10,000 retained jobs: jobs list, job create, result persist, event-loop delay during a 1,000-agent job',
  async run(ctx) {
    const jobs = ctx.smoke ? 100 : 10_000;
    const agents = ctx.smoke ? 10 : 1000;
    const dataDir = await ctx.sub('data');
    const secret = await prepareDataDir(dataDir, agentNames('sj', agents));
    ctx.log(`writing ${jobs} retained jobs`);
    await retainedJobs(dataDir, jobs);
    const controller = await startController(dataDir);
    let swarms: Swarms | undefined;
    try {
      swarms = await Swarms.agents(
        {
          url: controller.url,
          prefix: 'sj',
          stateRoot: join(ctx.dir, 'state'),
          tokens: { mode: 'issue', secret: secret.toString('base64') },
        },
        agents,
        swarmProcesses(agents),
      );
      swarms.go();
      await swarms.allAttached();
      const token = await tokenIssuer(secret)('admin', 'admin');
      const env = cliEnv(controller.url, token);
      const listApi: number[] = [];
      const listCli: number[] = [];
      const version: number[] = [];
      const create: number[] = [];
      const loopIdle: number[] = [];
      const loopP99: number[] = [];
      const loopMax: number[] = [];
      const gcMax: number[] = [];
      const fleetJob: number[] = [];

      ctx.log('jobs list and job create');
      await interleave(ctx.reps(20, 3), [
        async () => {
          const { body, ms } = await api<{ jobs: Job[] }>(controller.url, token, '/api/v1/jobs?limit=20');
          if (body.jobs.length !== 20) throw new Error(`jobs list gave ${body.jobs.length} jobs`);
          listApi.push(ms);
        },
        async () => {
          const { ms } = await api<Job>(controller.url, token, '/api/v1/jobs', 'POST', {
            command: 'true',
            target: ['sj-1'],
            timeoutMs: 60_000,
          });
          create.push(ms);
        },
      ]);
      await interleave(ctx.reps(5, 1), [
        async () => void version.push((await node([BIN, '--version'], { cwd: ROOT, env })).ms),
        async () => {
          const r = await node([BIN, 'jobs', 'list'], { cwd: ROOT, env });
          if (r.code !== 0) throw new Error(`jobs list exited ${r.code}: ${r.stderr}`);
          listCli.push(r.ms);
        },
      ]);
      await sleep(1000);
      await swarms.resultAckMs();
      const reps = ctx.reps(3);
      ctx.log(`${reps} rounds: event loop idle for 2 s, then during exec --all true over ${agents} agents`);
      await interleave(reps, [
        async () => {
          await controller.resetLoop();
          await sleep(2000);
          loopIdle.push((await controller.loop()).p99);
        },
        async () => {
          await controller.resetLoop();
          const r = await node([BIN, 'exec', '--all', '--json', 'true'], { cwd: ROOT, env, timeoutMs: 300_000 });
          const loop = await controller.loop();
          const job = JSON.parse(r.stdout || '{}') as Job;
          if (r.code !== 0 || job.summary?.succeeded !== agents) {
            throw new Error(`exec exited ${r.code}: ${JSON.stringify(job.summary)} ${r.stderr.slice(-2000)}`);
          }
          fleetJob.push(Date.parse(job.finishedAt ?? '') - Date.parse(job.createdAt));
          loopP99.push(loop.p99);
          loopMax.push(loop.max);
          gcMax.push(loop.gcMax);
        },
      ]);
      const acks = await swarms.resultAckMs();
      const list = spread(listApi);
      const p99 = spread(loopP99);
      return [
        {
          key: 'store.controller_start_ms',
          label: `controller start with ${jobs} retained jobs (spawn → listening)`,
          unit: 'ms',
          value: one(controller.startMs),
        },
        {
          key: 'store.jobs_list_api_ms',
          label: `GET /api/v1/jobs?limit=20 with ${jobs} jobs`,
          unit: 'ms',
          value: list,
          goal: { text: '≤ 100 ms', met: list.median <= 100 },
        },
        {
          key: 'store.jobs_list_cli_ms',
          label: `ogent jobs list with ${jobs} jobs (whole CLI process)`,
          unit: 'ms',
          value: spread(listCli),
          floor: { label: 'ogent --version', value: spread(version) },
        },
        { key: 'store.job_create_ms', label: 'POST /api/v1/jobs (1 agent)', unit: 'ms', value: spread(create) },
        {
          key: 'store.result_ack_ms',
          label: `result sent → persisted → acknowledged, ${agents}-agent jobs (p50; n results)`,
          unit: 'ms',
          value: spread(acks),
        },
        {
          key: 'store.result_ack_p99_ms',
          label: `result sent → persisted → acknowledged, ${agents}-agent jobs (p99)`,
          unit: 'ms',
          value: one(percentile(acks, 99)),
        },
        {
          key: 'store.fleet_job_ms',
          label: `exec --all true over ${agents} agents with ${jobs} jobs retained: created → done`,
          unit: 'ms',
          value: spread(fleetJob),
        },
        {
          key: 'store.loop_delay_p99_ms',
          label: `controller event-loop delay p99 during the ${agents}-agent job`,
          unit: 'ms',
          value: p99,
          floor: { label: 'idle controller, p99', value: spread(loopIdle) },
          goal: { text: '≤ 50 ms (worst round)', met: p99.max <= 50 },
        },
        {
          key: 'store.loop_delay_max_ms',
          label: `controller event-loop delay max during the ${agents}-agent job`,
          unit: 'ms',
          value: spread(loopMax),
        },
        {
          key: 'store.gc_pause_max_ms',
          label: `controller longest garbage-collection pause during the ${agents}-agent job`,
          unit: 'ms',
          value: spread(gcMax),
        },
      ] satisfies Figure[];
    } finally {
      await swarms?.stop();
      await controller.stop();
    }
  },
};

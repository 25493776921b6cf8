import { join } from 'node:path';
import type { Job } from '../../src/domain/model.js';
import { interleave, type Benchmark } from './lib/bench.js';
import { agentNames, cliEnv, prepareDataDir, startController, tokenIssuer } from './lib/fleet.js';
import { spread } from './lib/figures.js';
import { BIN, ROOT, node } from './lib/proc.js';
import { spawnFloor } from './lib/spawn-floor.js';
import { Swarms } from './lib/swarms.js';

/** Agents per swarm process beyond which the fleet is split (the machine has 2 cores). */
export const swarmProcesses = (agents: number) => (agents >= 10_000 ? 4 : agents >= 500 ? 2 : 1);

/** Fan-out's swarm processes: `OGENT_BENCH_AGENTS_PER_SWARM` agents each when set, else `swarmProcesses`. */
const fanoutProcesses = (agents: number) => {
  const per = Number(process.env.OGENT_BENCH_AGENTS_PER_SWARM);
  return per > 0 ? Math.ceil(agents / per) : swarmProcesses(agents);
};

/** `exec --all true` over N real agents: job created → job done, against spawning N `true` locally (issue 5, 11). */
export const fanout: Benchmark = {
  name: 'fanout',
  summary: '`exec --all --json true` over 100 and 1,000 agents vs spawning as many `true` locally',
  async run(ctx) {
    const sizes = process.env.OGENT_BENCH_FANOUT_SIZES?.split(',').map(Number) ?? [100, 1000];
    for (const size of ctx.smoke ? [4] : sizes) {
      const dataDir = await ctx.sub(`data-${size}`);
      const secret = await prepareDataDir(dataDir, agentNames('fo', size));
      const controller = await startController(dataDir);
      const processes = fanoutProcesses(size);
      let swarms: Swarms | undefined;
      try {
        swarms = await Swarms.agents(
          {
            url: controller.url,
            prefix: 'fo',
            stateRoot: join(ctx.dir, `state-${size}`),
            tokens: { mode: 'issue', secret: secret.toString('base64') },
          },
          size,
          processes,
        );
        swarms.go();
        await swarms.allAttached();
        ctx.log(`${size} agents registered in ${processes} swarm process(es)`);
        const env = cliEnv(controller.url, await tokenIssuer(secret)('admin', 'admin'));
        const jobMs: number[] = [];
        /** Where a job's time goes, from its document: created → last dispatched, → last started, → last finished. */
        const phases = { dispatched: [] as number[], started: [] as number[], finished: [] as number[] };
        const execMs: number[] = [];
        const floorMs: number[] = [];
        const swarmFloorMs: number[] = [];
        const exec = async (keep: boolean) => {
          const r = await node([BIN, 'exec', '--all', '--json', 'true'], { cwd: ROOT, env, timeoutMs: 300_000 });
          const job = JSON.parse(r.stdout || '{}') as Job;
          if (r.code !== 0 || job.summary?.succeeded !== size) {
            throw new Error(`exec exited ${r.code}, ${JSON.stringify(job.summary)}: ${r.stderr.slice(-2000)}`);
          }
          if (!keep) return;
          const created = Date.parse(job.createdAt);
          jobMs.push(Date.parse(job.finishedAt ?? '') - created);
          const last = (field: 'dispatchedAt' | 'startedAt' | 'finishedAt') =>
            Math.max(...job.runs.map((r) => Date.parse(r[field] ?? '') - created));
          phases.dispatched.push(last('dispatchedAt'));
          phases.started.push(last('startedAt'));
          phases.finished.push(last('finishedAt'));
          execMs.push(r.ms);
        };
        await exec(false);
        const reps = ctx.reps(size >= 1000 ? 7 : 9);
        ctx.log(`${reps} interleaved rounds: ${size} × true locally, exec --all true`);
        await interleave(reps, [
          async () => void floorMs.push(await spawnFloor(size, processes)),
          () => exec(true),
          async () => void swarmFloorMs.push(await (swarms as Swarms).spawnTrue()),
        ]);
        const job = spread(jobMs);
        const floor = spread(floorMs);
        const floorLabel = `${size} × spawn true, ${processes} process(es)`;
        ctx.add(
          {
            key: `fanout.${size}.job_ms`,
            label: `exec --all true, ${size} agents: job created → done`,
            unit: 'ms',
            value: job,
            floor: { label: floorLabel, value: floor },
            ...(size === 1000 ? { goal: { text: '≤ 1.3× floor', met: job.median <= 1.3 * floor.median } } : {}),
          },
          {
            key: `fanout.${size}.last_dispatched_ms`,
            label: `  of which: created → last run dispatched`,
            unit: 'ms',
            value: spread(phases.dispatched),
          },
          {
            key: `fanout.${size}.last_started_ms`,
            label: `  created → last run started on its agent`,
            unit: 'ms',
            value: spread(phases.started),
          },
          {
            key: `fanout.${size}.last_finished_ms`,
            label: `  created → last run finished on its agent`,
            unit: 'ms',
            value: spread(phases.finished),
          },
          {
            key: `fanout.${size}.swarm_spawn_ms`,
            label: `  ${size} × spawn true from inside the swarm processes (no agent code)`,
            unit: 'ms',
            value: spread(swarmFloorMs),
            floor: { label: floorLabel, value: floor },
          },
          {
            key: `fanout.${size}.exec_ms`,
            label: `exec --all --json true, ${size} agents: whole CLI process`,
            unit: 'ms',
            value: spread(execMs),
            floor: { label: floorLabel, value: floor },
          },
        );
        if (size === 1000) {
          // The same job with every agent's spool in memory: what the durable spool (3 writes a run) costs here,
          // where 500 agents share one process and one disk instead of a disk each.
          await swarms.stop();
          swarms = await Swarms.agents(
            {
              url: controller.url,
              prefix: 'fo',
              stateRoot: null,
              tokens: { mode: 'issue', secret: secret.toString('base64') },
            },
            size,
            processes,
          );
          swarms.go();
          await swarms.allAttached();
          const memory: number[] = [];
          const memoryFloor: number[] = [];
          await exec(false);
          await interleave(ctx.reps(5), [
            async () => void memoryFloor.push(await spawnFloor(size, processes)),
            async () => {
              await exec(true);
              memory.push(jobMs.pop() as number);
              execMs.pop();
            },
          ]);
          ctx.add({
            key: `fanout.${size}.job_ms_memory_spool`,
            label: `the same, agents' spools in memory instead of on disk`,
            unit: 'ms',
            value: spread(memory),
            floor: { label: floorLabel, value: spread(memoryFloor) },
          });
        }
      } finally {
        await swarms?.stop();
        await controller.stop();
      }
    }
  },
};

import type { Job } from '../../src/domain/model.js';
import { openLowdbStore } from '../../src/controller/infrastructure/store/lowdb-store.js';
import { interleave, sleep, type Benchmark, type BenchContext } from './lib/bench.js';
import { api, prepareDataDir, startController, tokenIssuer } from './lib/fleet.js';
import { spread, type Figure } from './lib/figures.js';
import { retainedJobs } from './store.js';

/**
 * A data dir in the store's current format (schema file, unfinished-jobs index) holding `jobs` finished jobs, so a
 * start measures reading the store, not a one-time upgrade. Returns the data dir and its JWT secret.
 */
async function dataDirWith(ctx: BenchContext, jobs: number) {
  const dataDir = await ctx.sub(`history-${jobs}`);
  const secret = await prepareDataDir(dataDir, []);
  await (await openLowdbStore(dataDir)).close();
  if (jobs) await retainedJobs(dataDir, jobs);
  return { dataDir, secret };
}

/** Spawn → `/healthz` answers 200 (what a load balancer or systemd's readiness check waits for), ms. */
async function startToHealthy(dataDir: string) {
  const t0 = performance.now();
  // No retention: its background removal would compete with what is measured.
  const controller = await startController(dataDir, 0, ['--retain-days', '0']);
  for (;;) {
    const res = await fetch(`${controller.url}/healthz`).catch(() => undefined);
    if (res?.status === 200) break;
    await sleep(5);
  }
  return { controller, ms: performance.now() - t0 };
}

/** Controller start and `GET /api/v1/jobs?limit=20` with a long history, against an empty store in the same run. */
export const history: Benchmark = {
  name: 'history',
  summary: 'controller start (spawn → /healthz 200) and GET /api/v1/jobs?limit=20 with 1,000 and 20,000 finished jobs',
  async run(ctx) {
    const sizes = ctx.smoke ? [10, 100] : [1000, 20_000];
    ctx.log(`writing data dirs: empty, ${sizes.join(', ')} finished jobs`);
    const dirs = [await dataDirWith(ctx, 0), ...(await Promise.all(sizes.map((n) => dataDirWith(ctx, n))))];
    const starts = dirs.map(() => [] as number[]);
    const lists = dirs.map(() => [] as number[]);
    const listReps = ctx.reps(20, 2);
    ctx.log(`${ctx.reps(5)} rounds: start each controller, list ${listReps} times, stop`);
    await interleave(
      ctx.reps(5),
      dirs.map(({ dataDir, secret }, i) => async () => {
        const { controller, ms } = await startToHealthy(dataDir);
        try {
          starts[i]?.push(ms);
          const token = await tokenIssuer(secret)('admin', 'admin');
          for (let r = 0; r < listReps; r++) {
            const { body, ms: listMs } = await api<{ jobs: Job[] }>(controller.url, token, '/api/v1/jobs?limit=20');
            const want = Math.min(20, sizes[i - 1] ?? 0);
            if (body.jobs.length !== want) throw new Error(`jobs list gave ${body.jobs.length} jobs, not ${want}`);
            lists[i]?.push(listMs);
          }
        } finally {
          await controller.stop();
        }
      }),
    );
    const startFloor = { label: 'empty store', value: spread(starts[0] ?? []) };
    const listFloor = { label: 'empty store', value: spread(lists[0] ?? []) };
    return sizes.flatMap((size, k): Figure[] => {
      const start = spread(starts[k + 1] ?? []);
      const list = spread(lists[k + 1] ?? []);
      const n = size.toLocaleString('en');
      return [
        {
          key: `history.start_${size}_ms`,
          label: `controller start with ${n} finished jobs (spawn → /healthz 200)`,
          unit: 'ms',
          value: start,
          floor: startFloor,
          goal: { text: '≤ 2 s (worst round)', met: start.max <= 2000 },
        },
        {
          key: `history.jobs_list_${size}_ms`,
          label: `GET /api/v1/jobs?limit=20 with ${n} finished jobs`,
          unit: 'ms',
          value: list,
          floor: listFloor,
          goal: { text: '≤ 100 ms (median)', met: list.median <= 100 },
        },
      ];
    });
  },
};

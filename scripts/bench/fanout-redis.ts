import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Job, User } from '../../src/domain/model.js';
import { interleave, type Benchmark, type BenchContext } from './lib/bench.js';
import { agentNames, cliEnv, passwordHashes, prepareDataDir, startController, tokenIssuer } from './lib/fleet.js';
import type { Controller } from './lib/fleet.js';
import { spread } from './lib/figures.js';
import { BIN, ROOT, node } from './lib/proc.js';
import { Swarms } from './lib/swarms.js';

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

/** A redis-server of its own (no persistence) for the run. */
async function redisServer(dir: string): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ready to accept connections')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

/** Users and the JWT secret written straight into Redis, in the Redis store's format (prefix `ogent:`). */
async function prepareRedis(url: string, agents: string[]): Promise<Buffer> {
  const redis = new Redis(url);
  const { admin, agent } = await passwordHashes();
  const createdAt = new Date().toISOString();
  const users: User[] = [
    { name: 'admin', role: 'admin', passwordHash: admin, createdAt },
    ...agents.map((name): User => ({ name, role: 'agent', passwordHash: agent, createdAt })),
  ];
  await redis.hset('ogent:users', Object.fromEntries(users.map((u) => [u.name, JSON.stringify(u)])));
  const secret = randomBytes(32);
  await redis.set('ogent:secret', secret.toString('base64'));
  redis.disconnect();
  return secret;
}

/**
 * Scale-out (issue 8): `exec --all true` over 1,000 real agents, with one controller (embedded lowdb store, then
 * `--redis`) and with the agents spread over two `--redis` controllers (the job created on the first), in one run.
 */
export const fanoutRedis: Benchmark = {
  name: 'fanout-redis',
  summary: '`exec --all --json true` over 1,000 agents: one controller (lowdb, Redis) vs two controllers on one Redis',
  async run(ctx) {
    // OGENT_BENCH_AGENTS: another fleet size (a loaded machine).
    const size = ctx.smoke ? 4 : Number(process.env.OGENT_BENCH_AGENTS ?? 1000);
    const names = agentNames('fr', size);
    const reps = ctx.reps(3);

    const measure = async (label: string, key: string, controllers: Controller[], secret: Buffer) => {
      let swarms: Swarms[] = [];
      try {
        // Agents split evenly over the controllers, one swarm process per controller.
        const per = Math.ceil(size / controllers.length);
        swarms = await Promise.all(
          controllers.map((c, i) =>
            Swarms.agents(
              {
                url: c.url,
                prefix: 'fr',
                stateRoot: join(ctx.dir, `state-${key}-${i}`),
                tokens: { mode: 'issue', secret: secret.toString('base64') },
              },
              Math.min(per, size - i * per),
              1,
              1 + i * per,
            ),
          ),
        );
        swarms.forEach((s) => s.go());
        await Promise.all(swarms.map((s) => s.allAttached()));
        ctx.log(`${label}: ${size} agents registered`);
        const env = cliEnv((controllers[0] as Controller).url, await tokenIssuer(secret)('admin', 'admin'));
        const jobMs: number[] = [];
        const exec = async (keep: boolean) => {
          const r = await node([BIN, 'exec', '--all', '--json', 'true'], { cwd: ROOT, env, timeoutMs: 300_000 });
          const job = JSON.parse(r.stdout || '{}') as Job;
          if (r.code !== 0 || job.summary?.succeeded !== size) {
            throw new Error(`exec exited ${r.code}, ${JSON.stringify(job.summary)}: ${r.stderr.slice(-2000)}`);
          }
          if (keep) jobMs.push(Date.parse(job.finishedAt ?? '') - Date.parse(job.createdAt));
        };
        await exec(false);
        await interleave(reps, [() => exec(true)]);
        ctx.add({
          key: `fanout_redis.${key}.job_ms`,
          label: `${label}: job created → done`,
          unit: 'ms',
          value: spread(jobMs),
        });
      } finally {
        await Promise.all(swarms.map((s) => s.stop()));
      }
    };

    await lowdbOne(ctx, names, (c, secret) => measure(`1 controller, lowdb, ${size} agents`, 'lowdb_1', [c], secret));
    const redis = await redisServer(await ctx.sub('redis'));
    try {
      const one = await prepareRedis(redis.url, names);
      const a = await startController(await ctx.sub('a'), 0, ['--redis', redis.url]);
      try {
        await measure(`1 controller, --redis, ${size} agents`, 'redis_1', [a], one);
        const b = await startController(await ctx.sub('b'), 0, ['--redis', redis.url]);
        try {
          await measure(
            `2 controllers, --redis, ${size / 2} agents each, job created on the first`,
            'redis_2',
            [a, b],
            one,
          );
        } finally {
          await b.stop();
        }
      } finally {
        await a.stop();
      }
    } finally {
      await redis.stop();
    }
  },
};

async function lowdbOne(ctx: BenchContext, names: string[], run: (c: Controller, secret: Buffer) => Promise<void>) {
  const dataDir = await ctx.sub('lowdb');
  const secret = await prepareDataDir(dataDir, names);
  const controller = await startController(dataDir);
  try {
    await run(controller, secret);
  } finally {
    await controller.stop();
  }
}

import { type Benchmark, type BenchContext, sleep } from './lib/bench.js';
import { agentNames, prepareDataDir, startController, type Controller } from './lib/fleet.js';
import { one, spread, type Figure } from './lib/figures.js';
import { ROOT, RssSampler, start, stop, waitForOutput } from './lib/proc.js';
import { SIO_FLOOR, Swarms } from './lib/swarms.js';
import { swarmProcesses } from './fanout.js';

interface Connected {
  ms: number;
  peakRssMb: number;
  settledRssMb: number;
}

/** socket.io alone, same handshake (JWT check) and an acknowledged agent_info: all of `count` connected. */
async function floor(size: number, secret: Buffer): Promise<Connected> {
  const server = start(process.execPath, ['--import', 'tsx', SIO_FLOOR, 'server', secret.toString('base64')], {
    cwd: ROOT,
  });
  try {
    const url = (await waitForOutput(server, /listening on (\S+)/, 'socket.io floor'))[1] as string;
    const rss = new RssSampler(server.pid as number);
    const clients = await Swarms.load(
      { url, prefix: 'cn', secret: secret.toString('base64') },
      size,
      swarmProcesses(size),
      [SIO_FLOOR, 'clients'],
    );
    try {
      const t0 = performance.now();
      clients.go();
      const ms = (await clients.allAttached()) - t0;
      const peak = rss.peak;
      await sleep(2000);
      return { ms, peakRssMb: Math.max(peak, rss.peak), settledRssMb: rss.stop().last };
    } finally {
      await clients.stop();
    }
  } finally {
    await stop(server);
  }
}

/** The real controller and agents: time from `go` until every agent is registered (agent_info acknowledged). */
async function ogent(ctx: BenchContext, size: number, then?: (c: Controller, s: Swarms) => Promise<void>) {
  const dataDir = await ctx.sub(`data-${size}`);
  const secret = await prepareDataDir(dataDir, [...agentNames('cn', size), ...agentNames('lg', ctx.smoke ? 5 : 100)]);
  const controller = await startController(dataDir);
  const swarms = await Swarms.agents(
    {
      url: controller.url,
      prefix: 'cn',
      stateRoot: null,
      tokens: { mode: 'issue', secret: secret.toString('base64') },
    },
    size,
    swarmProcesses(size),
  );
  try {
    const rss = new RssSampler(controller.pid);
    const t0 = performance.now();
    swarms.go();
    const ms = (await swarms.allAttached()) - t0;
    const peak = rss.peak;
    await sleep(2000);
    const result: Connected = { ms, peakRssMb: Math.max(peak, rss.peak), settledRssMb: rss.stop().last };
    // The storms restart the controller: what they start, they stop (and the runner stops any leftover).
    await then?.(controller, swarms);
    return result;
  } finally {
    await swarms.stop();
    await controller.stop();
  }
}

/**
 * The controller is killed (-9) with every agent connected and comes back on the same port and data dir after
 * `outageMs`: time from its restart until every agent is registered again, and its peak RSS meanwhile (issue 4).
 */
async function storm(controller: Controller, swarms: Swarms, outageMs: number) {
  await controller.stop('SIGKILL');
  await swarms.noneAttached();
  await sleep(outageMs);
  const t0 = performance.now();
  const next = await startController(controller.dataDir, controller.port);
  const listening = performance.now();
  const rss = new RssSampler(next.pid);
  const done = await swarms.allAttached();
  return { controller: next, fromStartMs: done - t0, fromListeningMs: done - listening, peakRssMb: rss.stop().peak };
}

export const connect: Benchmark = {
  name: 'connect',
  summary: '1,000 and 10,000 agents connecting (JWT checked), controller RSS, reconnect storm, password logins',
  async run(ctx) {
    const sizes = ctx.smoke ? [20] : [1000, 10_000];
    for (const size of sizes) {
      const reps = ctx.reps(size >= 10_000 ? 1 : 3);
      const ours: Connected[] = [];
      const floors: Connected[] = [];
      const stormFigures: Figure[] = [];
      for (let rep = 0; rep < reps; rep++) {
        ctx.log(`${size} agents, round ${rep + 1} of ${reps}: socket.io alone`);
        // A fresh secret each round: the floor uses the same token service as the controller.
        floors.push(await floor(size, Buffer.alloc(32, rep + 1)));
        ctx.log(`${size} agents, round ${rep + 1} of ${reps}: ogent`);
        const last = rep === reps - 1 && size === sizes[0];
        const result = await ogent(ctx, size, async (controller, swarms) => {
          if (!last) return;
          // After the last round at the first size: the reconnect storms and the password logins.
          const storms = [{ outageMs: 0, what: 'restarted at once' }];
          if (!ctx.smoke) storms.push({ outageMs: 10_000, what: 'back after 10 s away' });
          let current = controller;
          for (const { outageMs, what } of storms) {
            ctx.log(`reconnect storm: controller killed (-9), ${what}`);
            const s = await storm(current, swarms, outageMs);
            current = s.controller;
            const key = outageMs ? `connect.storm_${size}_after_${outageMs / 1000}s` : `connect.storm_${size}`;
            stormFigures.push(
              {
                key: `${key}_s`,
                label: `reconnect storm, ${size} agents, ${what}: controller listening → all registered`,
                unit: 's',
                value: one(s.fromListeningMs / 1000),
                goal: { text: '≤ 10 s', met: s.fromListeningMs <= 10_000 },
              },
              {
                key: `${key}_from_spawn_s`,
                label: `reconnect storm, ${size} agents, ${what}: controller spawned → all registered`,
                unit: 's',
                value: one(s.fromStartMs / 1000),
              },
              {
                key: `${key}_peak_rss_mb`,
                label: `reconnect storm, ${size} agents, ${what}: controller peak RSS`,
                unit: 'MB',
                value: one(s.peakRssMb),
              },
            );
          }
          ctx.log('password logins');
          const logins = ctx.smoke ? 5 : 100;
          const swarm = await Swarms.agents(
            {
              url: current.url,
              prefix: 'lg',
              stateRoot: null,
              tokens: { mode: 'password', password: 'bench-agent-password-1' },
            },
            logins,
            1,
          );
          try {
            const t0 = performance.now();
            swarm.go();
            const ms = (await swarm.allAttached()) - t0;
            stormFigures.push({
              key: `connect.login_${logins}_ms`,
              label: `${logins} agents logging in with a password (POST /token, scrypt) and connecting`,
              unit: 'ms',
              value: one(ms),
            });
          } finally {
            await swarm.stop();
            await current.stop();
          }
        });
        ours.push(result);
      }
      const floorLabel = 'socket.io alone, same handshake';
      const peak = spread(ours.map((r) => r.peakRssMb));
      ctx.add(
        {
          key: `connect.${size}.all_registered_ms`,
          label: `${size} agents connect: go → all registered`,
          unit: 'ms',
          value: spread(ours.map((r) => r.ms)),
          floor: { label: floorLabel, value: spread(floors.map((r) => r.ms)) },
        },
        {
          key: `connect.${size}.peak_rss_mb`,
          label: `${size} agents connect: controller peak RSS`,
          unit: 'MB',
          value: peak,
          floor: { label: floorLabel, value: spread(floors.map((r) => r.peakRssMb)) },
          ...(size === 10_000 ? { goal: { text: '≤ 400 MB', met: peak.median <= 400 } } : {}),
        },
        {
          key: `connect.${size}.settled_rss_mb`,
          label: `${size} agents connected: controller RSS 2 s later`,
          unit: 'MB',
          value: spread(ours.map((r) => r.settledRssMb)),
          floor: { label: floorLabel, value: spread(floors.map((r) => r.settledRssMb)) },
        },
        ...stormFigures,
      );
    }
  },
};

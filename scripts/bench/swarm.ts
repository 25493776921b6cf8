/**
 * Many real agents (the real agent code and shell executor) in one process, driven over IPC by the bench runner
 * (lib/swarms.ts). Loads, says `loaded`, and starts its agents only on `go`, so module loading is never timed.
 * Reports how many agents are registered (agent_info acknowledged) whenever that changes.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { passwordTokens, startAgent, type RunningAgent } from '../../src/agent/index.js';
import type { AgentLink } from '../../src/agent/manager.js';
import type { TokenSource } from '../../src/agent/client.js';
import { createLogger } from '../../src/lib/log.js';
import { tokenIssuer } from './lib/fleet.js';

export interface SwarmConfig {
  url: string;
  prefix: string;
  /** Agents PREFIX-from … PREFIX-(from+count-1). */
  from: number;
  count: number;
  /** Spools on disk under this dir (as real agents keep them), or in memory when null. */
  stateRoot: string | null;
  /** `issue`: tokens signed with the data dir's secret (base64); `password`: `POST /token` like `agent run`. */
  tokens: { mode: 'issue'; secret: string } | { mode: 'password'; password: string };
  /** Reconnection backoff; the real agent's defaults when absent. */
  minDelayMs?: number;
  maxDelayMs?: number;
}

export type SwarmMessage =
  | { type: 'loaded' }
  | { type: 'attached'; n: number }
  | { type: 'stats'; resultAckMs: number[] }
  | { type: 'spawned'; t0: number; t1: number }
  | { type: 'error'; message: string };

const send = (m: SwarmMessage) => process.send?.(m);

async function main() {
  const config = JSON.parse(process.argv[2] ?? '') as SwarmConfig;
  const log = createLogger('error');
  const issue = config.tokens.mode === 'issue' ? tokenIssuer(Buffer.from(config.tokens.secret, 'base64')) : null;
  const agents: RunningAgent[] = [];
  let attached = 0;
  let reportTimer: NodeJS.Timeout | undefined;
  const report = () => {
    clearTimeout(reportTimer);
    reportTimer = undefined;
    send({ type: 'attached', n: attached });
  };
  const changed = () => {
    if (attached === config.count || attached === 0) report();
    else reportTimer ??= setTimeout(report, 20);
  };
  let resultAckMs: number[] = [];

  const go = async () => {
    for (let i = 0; i < config.count; i++) {
      const name = `${config.prefix}-${config.from + i}`;
      const tokens: TokenSource = issue
        ? { get: () => issue(name, 'agent') }
        : passwordTokens(config.url, name, (config.tokens as { password: string }).password);
      const agent = await startAgent({
        controller: config.url,
        name,
        labels: { swarm: config.prefix },
        stateDir: config.stateRoot ? join(config.stateRoot, name) : null,
        tokens,
        log,
        minDelayMs: config.minDelayMs,
        maxDelayMs: config.maxDelayMs,
      });
      // Counts registrations and times each result's acknowledgement (sent → persisted by the controller → ack).
      const { manager } = agent;
      let isAttached = false;
      const attach = manager.attach.bind(manager);
      const detach = manager.detach.bind(manager);
      manager.attach = (link: AgentLink) => {
        attach({
          ...link,
          sendResult: (result) => {
            const t0 = performance.now();
            return link.sendResult(result).then((ack) => {
              resultAckMs.push(performance.now() - t0);
              return ack;
            });
          },
        });
        if (!isAttached) {
          isAttached = true;
          attached++;
          changed();
        }
      };
      manager.detach = () => {
        detach();
        if (isAttached) {
          isAttached = false;
          attached--;
          changed();
        }
      };
      agents.push(agent);
    }
  };

  const stopAll = async () => {
    await Promise.allSettled(agents.map((a) => a.stop()));
    process.exit(0);
  };
  process.on('message', (m: { type?: string }) => {
    if (m.type === 'go') go().catch((err: Error) => send({ type: 'error', message: err.stack ?? err.message }));
    if (m.type === 'stats') {
      send({ type: 'stats', resultAckMs });
      resultAckMs = [];
    }
    if (m.type === 'stop') void stopAll();
    // The fan-out floor from inside this process (its size, its neighbours): `count` × `true`, raw, all at once.
    if (m.type === 'spawn') void spawnTrue(config.count).then((t) => send({ type: 'spawned', ...t }));
  });
  // The runner is gone: so are we.
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => void stopAll());
  send({ type: 'loaded' });
}

function spawnTrue(count: number): Promise<{ t0: number; t1: number }> {
  const t0 = performance.timeOrigin + performance.now();
  let left = count;
  return new Promise((resolve) => {
    for (let i = 0; i < count; i++) {
      const child = spawn('true', [], { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.resume();
      child.stderr.resume();
      child.on('close', () => {
        if (--left === 0) resolve({ t0, t1: performance.timeOrigin + performance.now() });
      });
    }
  });
}

main().catch((err: Error) => {
  process.stderr.write(`swarm: ${err.stack}\n`);
  process.exit(1);
});

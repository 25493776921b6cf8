/**
 * Many real agents in one process (the real agent code and shell executor), for tests and benchmarks.
 * Run: node --import tsx test/helpers/swarm.ts URL PREFIX COUNT STATE_ROOT|-
 * Agent i is named PREFIX-i with password `pw-PREFIX-i-123456` (create the users first). Prints `swarm ready N`.
 */
import { join } from 'node:path';
import { passwordTokens, startAgent, type RunningAgent } from '../../src/agent/index.js';
import { createLogger } from '../../src/lib/log.js';

export const swarmPassword = (name: string) => `pw-${name}-123456`;

async function main() {
  const [url, prefix, countText, stateRoot] = process.argv.slice(2);
  if (!url || !prefix || !countText) throw new Error('usage: swarm.ts URL PREFIX COUNT [STATE_ROOT|-]');
  const log = createLogger((process.env.OGENT_LOG_LEVEL as 'warn') ?? 'warn');
  // Several controllers (scale-out), comma-separated: every agent fails over between them.
  const controller = url.includes(',') ? url.split(',') : url;
  const agents: RunningAgent[] = [];
  for (let i = 1; i <= Number(countText); i++) {
    const name = `${prefix}-${i}`;
    agents.push(
      await startAgent({
        controller,
        name,
        labels: { swarm: prefix },
        stateDir: stateRoot && stateRoot !== '-' ? join(stateRoot, name) : null,
        tokens: passwordTokens(controller, name, swarmPassword(name)),
        log,
        minDelayMs: 200,
        maxDelayMs: 2000,
      }),
    );
  }
  await Promise.all(agents.map((a) => a.ready));
  process.stdout.write(`swarm ready ${agents.length}\n`);
  const stop = () => {
    void Promise.all(agents.map((a) => a.stop())).then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (process.argv[1]?.endsWith('swarm.ts')) {
  main().catch((err: Error) => {
    process.stderr.write(`swarm: ${err.stack}\n`);
    process.exit(1);
  });
}

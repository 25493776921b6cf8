/**
 * One starter in a lock race (a real process): `lock-contender.ts controller|agent DIR`. It loads the lock, says
 * `ready`, takes the lock when a line arrives on stdin, says `held` or `busy: MESSAGE`, and holds it until killed.
 */
import { createInterface } from 'node:readline';

const [kind, dir] = process.argv.slice(2) as [string, string];
const acquire =
  kind === 'controller'
    ? (await import('../../src/controller/infrastructure/store/lock.js')).DataDirLock.acquire
    : (await import('../../src/agent/state-dir.js')).lockStateDir;
const lines = createInterface({ input: process.stdin });
process.stdout.write('ready\n');
await new Promise((resolve) => lines.once('line', resolve));
try {
  await acquire(dir);
  process.stdout.write('held\n');
  setInterval(() => {}, 60_000);
} catch (err) {
  process.stdout.write(`busy: ${(err as Error).message}\n`);
  process.exit(0);
}

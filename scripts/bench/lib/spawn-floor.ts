import { ROOT, start, waitForOutput } from './proc.js';

/**
 * The floor of a fan-out: `processes` Node processes (as many as the agent swarms), each spawning its share of
 * `count` `true` processes all at once (stdout/stderr piped, as an agent captures them), released together.
 * Returns first spawn → last exit, ms.
 */
export async function spawnFloor(count: number, processes: number): Promise<number> {
  const script = `
    const { spawn } = require('node:child_process');
    const n = Number(process.argv[1]);
    process.stdout.write('loaded\\n');
    process.stdin.once('data', () => {
      const t0 = performance.timeOrigin + performance.now();
      let left = n;
      for (let i = 0; i < n; i++) {
        const c = spawn('true', [], { stdio: ['ignore', 'pipe', 'pipe'] });
        c.stdout.resume();
        c.stderr.resume();
        c.on('close', () => {
          if (--left === 0) {
            process.stdout.write(JSON.stringify({ t0, t1: performance.timeOrigin + performance.now() }) + '\\n');
            process.exit(0);
          }
        });
      }
    });`;
  const per = Math.ceil(count / processes);
  const shares = Array.from({ length: processes }, (_, i) => Math.min(per, count - i * per)).filter((n) => n > 0);
  const children = shares.map((n) =>
    start(process.execPath, ['-e', script, String(n)], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] }),
  );
  await Promise.all(children.map((c) => waitForOutput(c, /loaded/, 'spawn floor')));
  const results = children.map((c) => waitForOutput(c, /\{.*\}/, 'spawn floor', 120_000));
  for (const c of children) c.stdin?.write('go\n');
  const times = (await Promise.all(results)).map((m) => JSON.parse(m[0]) as { t0: number; t1: number });
  return Math.max(...times.map((t) => t.t1)) - Math.min(...times.map((t) => t.t0));
}

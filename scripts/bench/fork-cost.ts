/**
 * What one `spawn('true')` costs a Node process of a given size: 100 spawns one after another, wall time and the
 * parent's CPU per spawn. libuv starts processes with fork(), whose cost grows with the parent's memory, which is
 * why a bench swarm holding hundreds of agents spawns slower than a real agent (BENCHMARKS.md, issue 5).
 * Run: node --import tsx scripts/bench/fork-cost.ts [EXTRA_MB ...]   (default: 0 100 300 600)
 */
import { spawn } from 'node:child_process';

const sizes = process.argv.slice(2).map(Number);
if (process.env.OGENT_FORK_COST_CHILD === undefined) {
  for (const mb of sizes.length ? sizes : [0, 100, 300, 600]) {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, String(mb)], {
        env: { ...process.env, OGENT_FORK_COST_CHILD: '1' },
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      child.on('error', reject).on('exit', () => resolve());
    });
  }
} else {
  const mb = sizes[0] ?? 0;
  const keep: unknown[] = [];
  for (let i = 0; i < mb; i++) keep.push(Buffer.alloc(1 << 20, 1));
  keep.push(Array.from({ length: mb * 5000 }, (_, i) => ({ i, s: `k${i}` })));
  const n = 100;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    await new Promise((resolve) => spawn('true', [], { stdio: 'ignore' }).on('close', resolve));
  }
  const cpu = process.cpuUsage(cpu0);
  const rss = (process.memoryUsage().rss / 1e6).toFixed(0);
  const wall = ((performance.now() - t0) / n).toFixed(2);
  const ms = (us: number) => (us / 1000 / n).toFixed(2);
  console.log(
    `parent RSS ${rss} MB: ${wall} ms a spawn, parent CPU ${ms(cpu.user + cpu.system)} ms (system ${ms(cpu.system)})`,
  );
}

// Raw spawns, timed and in their own process groups (src/lib/process.ts, execa, is the product's wrapper).
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BIN = `${ROOT}bin/run.js`;

/**
 * A bench script (TypeScript, importing src/) bundled into one plain ES module that `node` runs with no loader.
 * `--import tsx` compiles on a loader thread with its own V8 heap: ~30 MB more in every process it runs. That
 * matters where the process's size is measured, as in swarm processes that spawn: fork() costs grow with the
 * parent's memory, and a real agent runs compiled JavaScript. Written beside node_modules/ (so packages resolve and
 * src/lib/version.ts finds package.json two levels up), one file per runner process, removed when it exits.
 */
export async function compiled(script: string): Promise<string> {
  const known = bundles.get(script);
  if (known) return known;
  const { build } = await import('esbuild');
  const dir = `${ROOT}node_modules/.ogent-bench`;
  mkdirSync(dir, { recursive: true });
  const outfile = `${dir}/${script.replace(/^.*\//, '').replace(/\.ts$/, '')}-${process.pid}.mjs`;
  await build({
    entryPoints: [script],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'error',
  });
  bundles.set(script, outfile);
  return outfile;
}
const bundles = new Map<string, string>();
process.once('exit', () => {
  for (const file of bundles.values()) rmSync(file, { force: true });
});

/** Every process a benchmark started, each the leader of its own process group. */
const live = new Set<ChildProcess>();

/** Starts a process in its own group and remembers it, so `stopAll` (or exit) ends it and its children. */
export function start(file: string, args: string[], options: SpawnOptions = {}): ChildProcess {
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options, detached: true });
  live.add(child);
  child.once('exit', () => live.delete(child));
  child.once('error', () => live.delete(child));
  return child;
}

const running = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** TERM to the group, KILL after `graceMs`; resolves when the leader has exited. */
export async function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 3000): Promise<void> {
  const exited = new Promise<void>((resolve) => {
    if (!running(child)) resolve();
    else child.once('exit', () => resolve());
  });
  signalGroup(child, signal);
  const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
  // Stragglers of the group (a shell's children) go too.
  signalGroup(child, 'SIGKILL');
  live.delete(child);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((child) => stop(child)));
}

/** Last resort on exit: nothing a benchmark started outlives it. */
export function killAllNow(): void {
  for (const child of live) signalGroup(child, 'SIGKILL');
  live.clear();
}

export interface Timed {
  ms: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a process to its end; `ms` is spawn to exit, measured here. Output kept up to `keep` bytes per stream. */
export function timed(
  file: string,
  args: string[],
  options: SpawnOptions & { timeoutMs?: number; keep?: number; onStdout?: (chunk: Buffer) => void } = {},
): Promise<Timed> {
  const { timeoutMs = 120_000, keep = 4 << 20, onStdout, ...spawnOptions } = options;
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = start(file, args, spawnOptions);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => {
      onStdout?.(d);
      if (stdout.length < keep) stdout += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      if (stderr.length < keep) stderr += d.toString();
    });
    const timer = setTimeout(() => {
      void stop(child, 'SIGKILL');
      reject(new Error(`${file} ${args.join(' ')}: no exit within ${timeoutMs} ms\n${stderr.slice(-2000)}`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ ms: performance.now() - t0, code, stdout, stderr });
    });
  });
}

/**
 * With `--profile DIR` (the runner sets OGENT_BENCH_PROFILE), long-running processes write a V8 CPU profile to
 * DIR/ROLE/ when they exit cleanly; summarise one with scripts/bench/profile-summary.ts.
 */
export function profileArgs(role: string): string[] {
  const dir = process.env.OGENT_BENCH_PROFILE;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}/${role}`] : [];
}

/** `node ARGS` with the runner's Node. */
export const node = (args: string[], options: Parameters<typeof timed>[2] = {}) =>
  timed(process.execPath, args, options);

/** Resident memory of a process, in MB (0 when it is gone). */
export function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** User + system CPU seconds a process has used so far. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** Samples a process's RSS every `everyMs` until stopped: the peak and the last value. */
export class RssSampler {
  peak = 0;
  last = 0;
  private readonly timer: NodeJS.Timeout;
  constructor(
    private readonly pid: number,
    everyMs = 50,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
  }
  private sample() {
    const rss = rssMb(this.pid);
    if (rss > 0) this.last = rss;
    this.peak = Math.max(this.peak, rss);
  }
  stop(): { peak: number; last: number } {
    clearInterval(this.timer);
    this.sample();
    return { peak: this.peak, last: this.last };
  }
}

/** Resolves with the first match of `pattern` in a child's stdout+stderr, or rejects when it exits first. */
export function waitForOutput(child: ChildProcess, pattern: RegExp, what: string, timeoutMs = 60_000) {
  return new Promise<RegExpMatchArray>((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out = (out + d.toString()).slice(-20_000);
      const m = out.match(pattern);
      if (m) finish(null, m);
    };
    const onExit = (code: number | null) => finish(new Error(`${what} exited (${code}) before it was ready:\n${out}`));
    const timer = setTimeout(() => finish(new Error(`${what} not ready in ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const finish = (err: Error | null, m?: RegExpMatchArray) => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(m as RegExpMatchArray);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}

/** Machine facts for the report. */
export function machine(): { nproc: number; memoryGiB: number; node: string; load: string; cpu: string } {
  const mem = /MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'));
  const cpu = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
  return {
    nproc: availableParallelism(),
    memoryGiB: Math.round(Number(mem?.[1] ?? 0) / 1024 / 1024),
    node: process.version,
    load: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
    cpu: cpu?.[1]?.trim() ?? 'unknown',
  };
}

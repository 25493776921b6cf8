import { spawn } from 'node:child_process';

/**
 * The one module that starts processes. It uses `child_process.spawn` itself: execa's set-up cost ~1 ms of CPU more
 * per process, which an agent fanning out many short commands paid on every run (BENCHMARKS.md, fanout); nothing
 * here needs what execa adds (the output is streamed, never buffered; the group is killed by `killTree`).
 */

export interface Spawned {
  pid: number | undefined;
  onOutput(listener: (stream: 'stdout' | 'stderr', data: string) => void): void;
  /** Stops reading the process's output (it blocks when its pipes fill up): backpressure. */
  pause(): void;
  resume(): void;
  /** Resolves when the process has exited and its output is drained. */
  done: Promise<{ exitCode: number | null; signal: string | null; error?: string }>;
  /** Signals the whole process group: TERM, then KILL after `graceMs`. */
  killTree(graceMs?: number): void;
}

export function spawnCommand(
  file: string,
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Spawned {
  // Its own process group (detached), so a timeout or cancel reaches every descendant.
  const child = spawn(file, args, {
    env: options.env ?? process.env,
    cwd: options.cwd,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const listeners: Array<(stream: 'stdout' | 'stderr', data: string) => void> = [];
  for (const stream of ['stdout', 'stderr'] as const) {
    child[stream].setEncoding('utf8');
    child[stream].on('data', (data: string) => listeners.forEach((l) => l(stream, data)));
  }
  let startError: Error | undefined;
  child.on('error', (err) => (startError ??= err));
  let killTimer: NodeJS.Timeout | undefined;
  const signalGroup = (signal: NodeJS.Signals) => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      child.kill(signal);
    }
  };
  // The SIGKILL of killTree is not cancelled when the leader exits: a descendant that ignores SIGTERM must go too.
  // 'close' comes once the process has exited and both pipes are drained (also after a failed start).
  const done = new Promise<{ exitCode: number | null; signal: string | null; error?: string }>((resolve) => {
    child.on('close', (code: number | null, signal: NodeJS.Signals | null) => {
      if (child.pid === undefined) {
        resolve({ exitCode: null, signal: null, error: startError?.message ?? `could not start ${file}` });
      } else resolve({ exitCode: code, signal });
    });
  });
  return {
    pid: child.pid,
    onOutput: (l) => listeners.push(l),
    pause: () => {
      child.stdout.pause();
      child.stderr.pause();
    },
    resume: () => {
      child.stdout.resume();
      child.stderr.resume();
    },
    done,
    killTree(graceMs = 2000) {
      signalGroup('SIGTERM');
      clearTimeout(killTimer);
      killTimer = setTimeout(() => signalGroup('SIGKILL'), graceMs);
      killTimer.unref();
    },
  };
}

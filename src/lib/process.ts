import { execa } from 'execa';

/** The one module that starts processes (through execa). */

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
  const child = execa(file, args, {
    env: options.env,
    cwd: options.cwd,
    detached: true,
    reject: false,
    buffer: false,
    stdin: 'ignore',
    encoding: 'utf8',
    cleanup: true,
  });
  const listeners: Array<(stream: 'stdout' | 'stderr', data: string) => void> = [];
  for (const stream of ['stdout', 'stderr'] as const) {
    child[stream]?.setEncoding('utf8');
    child[stream]?.on('data', (data: string) => listeners.forEach((l) => l(stream, data)));
  }
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
  const done = child.then((r) => {
    const failedToStart = r.exitCode === undefined && r.signal === undefined;
    return {
      exitCode: r.exitCode ?? null,
      signal: r.signal ?? null,
      ...(failedToStart ? { error: r.originalMessage || r.shortMessage } : {}),
    };
  });
  return {
    pid: child.pid,
    onOutput: (l) => listeners.push(l),
    pause: () => {
      child.stdout?.pause();
      child.stderr?.pause();
    },
    resume: () => {
      child.stdout?.resume();
      child.stderr?.resume();
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

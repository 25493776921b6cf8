import { statSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { execa } from 'execa';

/** The one module that starts processes (through execa). */

export interface Spawned {
  pid: number | undefined;
  /** The process's output as it was read: raw bytes (a chunk may end inside a UTF-8 character). */
  onOutput(listener: (stream: 'stdout' | 'stderr', data: Buffer) => void): void;
  /** Stops reading the process's output (it blocks when its pipes fill up): backpressure. */
  pause(): void;
  resume(): void;
  /** Resolves when the process has exited and its output is drained. */
  done: Promise<{ exitCode: number | null; signal: string | null; error?: string }>;
  /** Signals the whole process group: TERM, then KILL after `graceMs`. */
  killTree(graceMs?: number): void;
  /** The process's standard input, when it was started with `stdin: true` (else it reads end-of-file at once). */
  stdin?: Writable;
}

/** A run that could not start: it ends at once with `error` and no process. */
export function notStarted(error: string): Spawned {
  return {
    pid: undefined,
    onOutput: () => {},
    pause: () => {},
    resume: () => {},
    done: Promise.resolve({ exitCode: null, signal: null, error }),
    killTree: () => {},
  };
}

/** Who a command runs as (`agent run --run-as`): switched to by `setpriv` before the command is executed. */
export interface RunAsUser {
  name: string;
  uid: number;
  gid: number;
  /** Supplementary group ids. */
  groups: number[];
  home: string;
  shell: string;
  /** util-linux `setpriv`, which sets the groups, gid and uid (Node's own uid/gid options drop every supplementary group). */
  setpriv: string;
}

/** The argv that runs `file args` as `user`. */
export function asUser(user: RunAsUser, file: string, args: string[]): [string, string[]] {
  return [
    user.setpriv,
    [
      `--reuid=${user.uid}`,
      `--regid=${user.gid}`,
      ...(user.groups.length ? [`--groups=${user.groups.join(',')}`] : ['--clear-groups']),
      '--',
      file,
      ...args,
    ],
  ];
}

/** Runs a short command to its end and returns its output (look-ups at start-up: `getent`, `id`). */
export async function captureCommand(
  file: string,
  args: string[],
): Promise<{ exitCode: number | null; stdout: string; stderr: string; error?: string }> {
  const r = await execa(file, args, { reject: false, stdin: 'ignore', encoding: 'utf8', timeout: 10_000 });
  const failedToStart = r.exitCode === undefined && r.signal === undefined;
  return {
    exitCode: r.exitCode ?? null,
    stdout: r.stdout,
    stderr: r.stderr,
    ...(failedToStart ? { error: r.originalMessage || r.shortMessage } : {}),
  };
}

/** Why a process could not start in `cwd`: Node says `spawn /bin/sh ENOENT`, as if the shell were missing. */
function cwdProblem(cwd: string | undefined): string | undefined {
  if (cwd === undefined) return undefined;
  try {
    if (!statSync(cwd).isDirectory()) return `working directory ${cwd} is not a directory`;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // Not the file system's answer (a NUL byte in the path): the spawn's own reason says it better.
    if (code === undefined || code.startsWith('ERR_')) return undefined;
    return code === 'ENOENT' ? `working directory ${cwd} does not exist` : `working directory ${cwd}: ${code}`;
  }
  return undefined;
}

export function spawnCommand(
  file: string,
  args: string[],
  options: {
    /** The command's whole environment; the agent's own when undefined (the executors always give one). */
    env?: Record<string, string>;
    cwd?: string;
    user?: RunAsUser;
    /** A pipe to write the process's stdin to; without it the process reads /dev/null. */
    stdin?: boolean;
  } = {},
): Spawned {
  const [bin, argv] = options.user ? asUser(options.user, file, args) : [file, args];
  let child: ReturnType<typeof spawnChild>;
  try {
    child = spawnChild(bin, argv, options);
  } catch (err) {
    // execa throws before it spawns on what no process can take (a NUL byte in an argument): a failed run, not a crash.
    return notStarted(`the command could not start: ${(err as Error).message}`);
  }
  const listeners: Array<(stream: 'stdout' | 'stderr', data: Buffer) => void> = [];
  for (const stream of ['stdout', 'stderr'] as const) {
    child[stream]?.on('data', (data: Buffer) => listeners.forEach((l) => l(stream, data)));
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
      ...(failedToStart ? { error: cwdProblem(options.cwd) ?? (r.originalMessage || r.shortMessage) } : {}),
    };
  });
  return {
    pid: child.pid,
    ...(options.stdin && child.stdin ? { stdin: child.stdin } : {}),
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

/** execa, as every run is started: it throws, before anything is spawned, on what no process can take. */
function spawnChild(
  bin: string,
  argv: string[],
  options: { env?: Record<string, string>; cwd?: string; stdin?: boolean },
) {
  return execa(bin, argv, {
    // Never merged again here: `env` is whole (the executors build it once, without the agent's secrets).
    env: options.env,
    extendEnv: false,
    cwd: options.cwd,
    detached: true,
    reject: false,
    buffer: false,
    stdin: options.stdin ? 'pipe' : 'ignore',
    encoding: 'buffer',
    cleanup: true,
  });
}

import type { Spawned } from '../../lib/process.js';

/** What an executor is asked to run: the fields of `execute_command` it may use. */
export interface ExecutorRequest {
  command: string;
  args?: string[];
  script?: string;
  sshHost?: string;
  sshTarget?: string;
  env?: Record<string, string>;
  cwd?: string;
}

/** One way of running a command on the agent (DESIGN §1). */
export interface Executor {
  /** Why this agent will not run `request` (the run is `rejected` with it), or undefined. */
  refuse?(request: ExecutorRequest): string | undefined;
  start(request: ExecutorRequest): Spawned;
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

/** The agent's environment with the job's variables over it. */
export const withEnv = (env: Record<string, string> | undefined) =>
  env ? ({ ...process.env, ...env } as Record<string, string>) : undefined;

import { existsSync } from 'node:fs';
import type { RunAsUser, Spawned } from '../../lib/process.js';

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

export { notStarted } from '../../lib/process.js';

/** The agent's environment with the job's variables over it. */
export const withEnv = (env: Record<string, string> | undefined) =>
  env ? ({ ...process.env, ...env } as Record<string, string>) : undefined;

/** The agent's secrets, never passed to a command run as another user. */
const AGENT_SECRETS = ['OGENT_PASSWORD', 'OGENT_TOKEN', 'OGENT_JOIN_TOKEN'];

/**
 * How a command is spawned: as the agent's user, or as `--run-as` USER with that user's HOME, USER, LOGNAME and
 * SHELL (the job's variables over them), without the agent's secrets, in the job's directory or else USER's home.
 */
export function spawnOptions(request: Pick<ExecutorRequest, 'env' | 'cwd'>, user: RunAsUser | undefined) {
  if (!user) return { env: withEnv(request.env), cwd: request.cwd };
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !AGENT_SECRETS.includes(k)) env[k] = v;
  Object.assign(env, { HOME: user.home, USER: user.name, LOGNAME: user.name, SHELL: user.shell }, request.env);
  const cwd = request.cwd ?? (existsSync(user.home) ? user.home : '/');
  return { env, cwd, user };
}

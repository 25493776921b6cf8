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
  /** The process reads the job's stdin (the manager writes it to `Spawned.stdin`). */
  stdin?: boolean;
}

/** One way of running a command on the agent (README, Executors). */
export interface Executor {
  /** Why this agent will not run `request` (the run is `rejected` with it), or undefined. */
  refuse?(request: ExecutorRequest): string | undefined;
  start(request: ExecutorRequest): Spawned;
}

/**
 * Credentials in the agent's (or, for the local agent, the controller's) environment: `OGENT_PASSWORD`, `OGENT_TOKEN`,
 * `OGENT_JOIN_TOKEN`, `OGENT_ADMIN_PASSWORD`, `OGENT_AI_API_KEY`, and `OGENT_REDIS_URL` (its URL may carry a password).
 */
const AGENT_SECRET = /^OGENT_\w*(PASSWORD|PASSWD|TOKEN|SECRET|KEY|CREDENTIAL|REDIS_URL)/;

/** The agent's environment without its secrets, the job's variables over it: what every command starts with. */
function commandEnv(env: Record<string, string> | undefined) {
  const clean: Record<string, string> = {};
  // Read per run (~70 µs for 40 variables, measured): Node's spawn read all of process.env anyway when given none.
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !AGENT_SECRET.test(k)) clean[k] = v;
  return Object.assign(clean, env);
}

/**
 * How a command is spawned, never with the agent's secrets (with or without `--run-as`): as the agent's user, or as
 * `--run-as` USER with that user's HOME, USER, LOGNAME and SHELL (the job's variables over them), in the job's
 * directory or else USER's home.
 */
export function spawnOptions(request: Pick<ExecutorRequest, 'env' | 'cwd' | 'stdin'>, user: RunAsUser | undefined) {
  const stdin = request.stdin === true;
  if (!user) return { env: commandEnv(request.env), cwd: request.cwd, stdin };
  const env = commandEnv({ HOME: user.home, USER: user.name, LOGNAME: user.name, SHELL: user.shell, ...request.env });
  const cwd = request.cwd ?? (existsSync(user.home) ? user.home : '/');
  return { env, cwd, user, stdin };
}

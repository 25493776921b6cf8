import { homedir } from 'node:os';
import { join } from 'node:path';

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'ogent');
}

export function defaultConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'ogent');
}

const stateHome = (env: NodeJS.ProcessEnv) => env.XDG_STATE_HOME || join(homedir(), '.local', 'state');

/** An agent's state dir without `--state-dir`: one per agent name, so agents with different names never share one. */
export function defaultStateDir(name: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(stateHome(env), 'ogent', 'agents', name);
}

/** Where versions before per-name state dirs kept every agent's state. */
export function legacyStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(stateHome(env), 'ogent', 'agent');
}

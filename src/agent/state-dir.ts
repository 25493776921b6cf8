import { access, mkdir, rename, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DirLock, LockBusyError } from '../lib/dir-lock.js';
import { UserError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { defaultStateDir, legacyStateDir } from '../lib/paths.js';
import { agentNameCheck } from '../protocol/events.js';
import { parse } from '../protocol/validate.js';
import { readCredential } from './credential.js';
import { defaultAgentName } from './facts.js';

/**
 * The agent's state dir: `--state-dir`, else its own per name (`$XDG_STATE_HOME/ogent/agents/NAME`). Without
 * `--name`, the name is the one enrolled in an earlier version's shared dir (that was the default), else the host's.
 * That shared dir becomes this agent's own (moved, and logged) when it holds this agent's state: its credential, or
 * (no credential in it) the spool of an agent that logs in with a password, and the agent has no dir of its own yet.
 */
export async function agentStateDir(options: {
  stateDir?: string;
  name?: string;
  passwordAgent: boolean;
  log: Logger;
}): Promise<string> {
  if (options.stateDir !== undefined) return options.stateDir;
  const legacy = legacyStateDir();
  // An unreadable file there, or one with a name that cannot name a directory, is left alone.
  const saved = await readCredential(legacy).then(
    (c) => (c && isAgentName(c.name) ? c : undefined),
    () => undefined,
  );
  const name = options.name ?? (options.passwordAgent ? undefined : saved?.name) ?? defaultAgentName();
  const dir = defaultStateDir(name);
  const ours = saved ? saved.name === name : options.passwordAgent && (await exists(join(legacy, 'spool.json')));
  if (!ours || (await exists(dir))) return dir;
  await mkdir(dirname(dir), { recursive: true, mode: 0o700 });
  try {
    await rename(legacy, dir);
    options.log.info("moved the agent's state from the shared dir of an earlier version to its own", {
      from: legacy,
      to: dir,
    });
  } catch (err) {
    // Another agent of this name moved it first, or made its own dir: that one is used (and locked).
    if (!['ENOENT', 'EEXIST', 'ENOTEMPTY'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
  }
  return dir;
}

/**
 * Makes the state dir (0700) and holds it while the agent runs: a second agent on it stops at once, naming it.
 * A dir others may read is used with a warning (a given `--state-dir` is never changed: it may be anything).
 */
export async function lockStateDir(dir: string, log?: Logger): Promise<DirLock> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  try {
    const lock = await DirLock.acquire(join(dir, 'agent.lock'));
    const mode = (await stat(dir)).mode & 0o777;
    if (mode & 0o077) {
      log?.warn('the state dir is open to other users: it holds the agent credential', {
        stateDir: dir,
        mode: mode.toString(8),
        fix: `chmod 700 ${dir}`,
      });
    }
    return lock;
  } catch (err) {
    if (!(err instanceof LockBusyError)) throw err;
    throw new UserError(`state dir ${dir} is in use by another agent (pid ${err.pid})`, {
      code: 'ERR_STATE_DIR_IN_USE',
      exit: 1,
      suggestion: 'stop that agent, or give each agent its own --state-dir (or its own --name)',
    });
  }
}

function isAgentName(name: string): boolean {
  try {
    parse(agentNameCheck, name);
    return true;
  } catch {
    return false;
  }
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

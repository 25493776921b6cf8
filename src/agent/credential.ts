import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { apiError, request } from '../lib/http-client.js';
import { authError, UserError, usageError } from '../lib/errors.js';

/** What `agent run --join-token` got from the controller, kept in `--state-dir` (mode 0600) for every later start. */
export interface AgentCredential {
  /** The agent's name, which is the name of its agent-role user. */
  name: string;
  password: string;
  /** Where it enrolled (for people reading the file; the agent connects to --controller). */
  controller: string;
  enrolledAt: string;
}

export const credentialPath = (stateDir: string) => join(stateDir, 'credential.json');

/** The saved credential, or undefined when there is none; a file that is not one stops the agent with why. */
export async function readCredential(stateDir: string): Promise<AgentCredential | undefined> {
  const path = credentialPath(stateDir);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw usageError(
      `cannot read the agent credential ${path} (${(err as NodeJS.ErrnoException).code})`,
      'run the agent as the user that owns --state-dir, or pass another --state-dir',
    );
  }
  try {
    const parsed = JSON.parse(text) as Partial<AgentCredential>;
    if (typeof parsed.name === 'string' && typeof parsed.password === 'string') return parsed as AgentCredential;
  } catch {
    // reported below
  }
  throw usageError(
    `${path} does not hold an agent credential`,
    'move it away and enroll again with --join-token (an admin issues one with `ogent agents enroll-token`)',
  );
}

/** Written to a temp file with mode 0600, then renamed: never readable by others, never half-written. */
export async function saveCredential(stateDir: string, credential: AgentCredential): Promise<string> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const path = credentialPath(stateDir);
  const temp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(temp, `${JSON.stringify(credential, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    await chmod(temp, 0o600);
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  return path;
}

/** `POST /api/v1/agents/enroll`: the join token for this agent's own credential (the token's use is spent). */
export async function enroll(controller: string, token: string, name: string, ca?: string): Promise<AgentCredential> {
  const res = await request<{ name: string; password: string; error?: string; message?: string }>(
    controller,
    '/api/v1/agents/enroll',
    { method: 'POST', body: { token, name }, ca },
  );
  if (res.status === 201) {
    return { name: res.body.name, password: res.body.password, controller, enrolledAt: new Date().toISOString() };
  }
  const message = res.body?.message ?? `HTTP ${res.status}`;
  if (res.status === 401) {
    throw authError(
      `join token refused: ${message}`,
      'an admin issues a new one with `ogent agents enroll-token`',
      'ERR_JOIN_TOKEN',
    );
  }
  if (res.status === 409) throw new UserError(`enrollment refused: ${message}`, { code: 'ERR_NAME_TAKEN', exit: 1 });
  throw apiError(res.status, res.body, 'enroll');
}

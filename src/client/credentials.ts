import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { authError, type UserError } from '../lib/errors.js';
import { defaultConfigDir } from '../lib/paths.js';
import { checkPlainHttpUrl } from '../lib/plain-http.js';
import {
  apiError,
  login,
  normalizeUrl,
  parseControllers,
  refreshLogin,
  request,
  DEFAULT_REQUEST_TIMEOUT_MS,
} from './http.js';
import { readCa } from './tls.js';

export const DEFAULT_CONTROLLER = 'http://127.0.0.1:8600';

export interface StoredCredentials {
  controller: string;
  username: string;
  token: string;
  expiresAt: string;
  /** The refresh token of the login session, and when it ends: new tokens are fetched with it (docs/architecture.md §7.2). */
  refreshToken?: string;
  refreshExpiresAt?: string;
  /** `ogent login --ca FILE`: the CA file the later commands trust for this controller. */
  ca?: string;
  /** `ogent login --insecure-http`: plain HTTP to this (non-loopback) controller was allowed for later commands too. */
  insecureHttp?: boolean;
}

const file = (env: NodeJS.ProcessEnv) => join(defaultConfigDir(env), 'credentials.json');

export async function readStored(env: NodeJS.ProcessEnv = process.env): Promise<StoredCredentials | undefined> {
  try {
    const parsed = JSON.parse(await readFile(file(env), 'utf8')) as StoredCredentials;
    return typeof parsed.token === 'string' && typeof parsed.controller === 'string' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

export async function writeStored(creds: StoredCredentials, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const path = file(env);
  await mkdir(defaultConfigDir(env), { recursive: true, mode: 0o700 });
  await writeFile(path, `${JSON.stringify(creds, null, 2)}\n`, { mode: 0o600 });
  await chmod(path, 0o600);
  return path;
}

export async function removeStored(env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const path = file(env);
  const existed = (await readStored(env)) !== undefined;
  await rm(path, { force: true });
  return existed;
}

/** A stored token this close to its expiry is renewed first (a command's requests must not outlive it). */
const RENEW_BEFORE_MS = 30_000;

const canRefresh = (creds: StoredCredentials) =>
  creds.refreshToken !== undefined && Date.parse(creds.refreshExpiresAt ?? '') > Date.now();

export interface Session {
  /** The controller in use: the first of `candidates` that answered healthy, or the one `use` moved to. */
  controller: string;
  /** Every controller given (`--controller A,B`, OGENT_CONTROLLER): several that share a Redis. */
  candidates?: string[];
  /**
   * Probes every candidate at once (the one in use went away): the first that answers healthy, or undefined. Changes
   * nothing: the caller moves to it with `use` once its connection there is up.
   */
  probe?(signal?: AbortSignal): Promise<string | undefined>;
  /** Makes `url` (one of the candidates) the controller in use. */
  use?(url: string): void;
  /** PEM to trust for an https:// controller (`--ca FILE`, `OGENT_CA`, or the one `ogent login --ca` kept). */
  ca?: string;
  /** How long each request waits for an answer (`--request-timeout`). */
  timeoutMs?: number;
  /** A bearer token (logs in with OGENT_USERNAME/OGENT_PASSWORD when those are set). */
  token(): Promise<string>;
}

/**
 * Flag > environment > `ogent login`'s stored credentials > default (README, Configuration and credentials), for the controller URL and the
 * CA to trust. Plain http:// to a host that is not loopback is refused (exit 2) unless `--insecure-http`
 * (OGENT_INSECURE_HTTP=1), or `ogent login --insecure-http` to that controller, allows it.
 */
export async function resolveSession(
  flags: { controller?: string; ca?: string; 'insecure-http'?: boolean; 'request-timeout'?: number },
  env: NodeJS.ProcessEnv = process.env,
): Promise<Session> {
  const stored = await readStored(env);
  // Several controllers sharing a Redis (scale-out), comma-separated: the first one that answers healthy.
  const candidates = parseControllers(flags.controller ?? stored?.controller ?? DEFAULT_CONTROLLER);
  const sameController = stored !== undefined && candidates.includes(normalizeUrl(stored.controller));
  const caFile = flags.ca || (sameController ? stored?.ca : undefined);
  // Checked before anything is sent: every candidate, as the command may fail over to any of them.
  const loggedInInsecure = stored?.insecureHttp ? normalizeUrl(stored.controller) : undefined;
  for (const url of candidates) checkPlainHttpUrl(url, flags['insecure-http'] || url === loggedInInsecure);
  const ca = caFile ? await readCa(caFile) : undefined;
  const controller =
    candidates.length === 1
      ? (candidates[0] as string)
      : ((await firstHealthy(candidates, ca)) ?? (candidates[0] as string));
  const timeoutMs = flags['request-timeout'] ?? DEFAULT_REQUEST_TIMEOUT_MS;
  let cached: string | undefined;
  let renewAt = Infinity;
  let current = stored;
  /**
   * Swaps the session's refresh token for a new access token and stores it (mode 0600). Undefined when the controller
   * could not answer and the stored token is still good; exits 3 when the session ended.
   */
  const renew = async (creds: StoredCredentials, url: string): Promise<StoredCredentials | undefined> => {
    const res = await refreshLogin(url, creds.refreshToken as string, ca, timeoutMs).catch((err: unknown) => {
      if (Date.parse(creds.expiresAt) > Date.now()) return undefined;
      throw err;
    });
    if (!res) return undefined;
    if (res.status === 401) {
      throw authError(
        `not logged in: the session ended (${res.body.message ?? 'refused'})`,
        `run \`ogent login --controller ${url}\``,
      );
    }
    if (res.status !== 200) {
      if (Date.parse(creds.expiresAt) > Date.now()) return undefined;
      throw apiError(res.status, res.body, 'token refresh');
    }
    const renewed = {
      ...creds,
      token: res.body.access_token,
      expiresAt: new Date(Date.now() + res.body.expires_in * 1000).toISOString(),
    };
    await writeStored(renewed, env);
    return renewed;
  };
  /** A credential problem found here is said only once the controller answers: `ogent doctor`'s order. */
  const refuse = async (err: UserError): Promise<never> => {
    await request(session.controller, '/healthz', { timeoutMs, ca });
    throw err;
  };
  const session: Session = {
    controller,
    candidates,
    ca,
    timeoutMs,
    probe: (signal) => firstHealthy(candidates, ca, signal),
    use(url) {
      session.controller = url;
    },
    async token() {
      if (cached && Date.now() < renewAt) return cached;
      if (env.OGENT_TOKEN) return (cached = env.OGENT_TOKEN);
      if (env.OGENT_USERNAME && env.OGENT_PASSWORD) {
        const res = await login(session.controller, env.OGENT_USERNAME, env.OGENT_PASSWORD, ca, timeoutMs);
        renewAt = Date.now() + Math.max(0, res.expires_in - 30) * 1000;
        return (cached = res.access_token);
      }
      if (env.OGENT_USERNAME || env.OGENT_PASSWORD) {
        throw authError('OGENT_USERNAME and OGENT_PASSWORD must be set together');
      }
      if (!current) return refuse(authError('not logged in', `run \`ogent login --controller ${session.controller}\``));
      // A login to one controller of a cluster is good on all of them (they share the signing secret).
      if (!candidates.includes(normalizeUrl(current.controller))) {
        return refuse(
          authError(
            `not logged in to ${session.controller} (logged in to ${current.controller})`,
            `run \`ogent login --controller ${session.controller}\``,
          ),
        );
      }
      const expiresAt = Date.parse(current.expiresAt);
      if (expiresAt - RENEW_BEFORE_MS <= Date.now() && canRefresh(current)) {
        current = (await renew(current, session.controller)) ?? current;
      }
      if (Date.parse(current.expiresAt) <= Date.now()) {
        return refuse(authError('session expired', 'run `ogent login` again', 'ERR_TOKEN_EXPIRED'));
      }
      // A long command (a followed job) asks again near the expiry, and is renewed while its session lasts.
      if (canRefresh(current)) renewAt = Date.parse(current.expiresAt) - RENEW_BEFORE_MS;
      return (cached = current.token);
    },
  };
  return session;
}

/**
 * Probes every controller's `/healthz` at once: the first to answer 200 (one whose Redis is down answers 503). A
 * controller that accepts connections and never answers (a frozen process, a dropped route) costs nothing while
 * another answers, and the probes still pending are given up, so they do not hold the command for their timeout.
 */
async function firstHealthy(urls: string[], ca: string | undefined, signal?: AbortSignal): Promise<string | undefined> {
  const giveUp = new AbortController();
  const stop = () => giveUp.abort();
  signal?.addEventListener('abort', stop, { once: true });
  try {
    return await Promise.any(
      urls.map(async (url) => {
        const res = await request(url, '/healthz', { timeoutMs: 3000, ca, signal: giveUp.signal });
        if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status}`);
        return url;
      }),
    );
  } catch {
    return undefined;
  } finally {
    giveUp.abort();
    signal?.removeEventListener('abort', stop);
  }
}

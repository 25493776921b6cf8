/**
 * The HTTP client of the controller's API, shared by the CLI (`client/`) and the agent (`agent/`): one request, its
 * failures in `ogent doctor`'s words, a refusal as the UserError with its exit code (docs/architecture.md §2).
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { EXIT, UserError, unreachableError, type ExitCode } from './errors.js';
import { diagnose, notAController, type Diagnosis } from './net-diagnosis.js';
import { certificateError } from './tls-errors.js';
import { VERSION } from './version.js';
import { ERROR_CODES, isErrorCode, type ExitName } from '../protocol/error-codes.js';
import { VERSION_HEADER, VERSION_UNSUPPORTED } from '../protocol/version.js';

export interface TokenResponse {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  /** A password login of a person, unless the controller runs with `--refresh-ttl 0`. */
  refresh_token?: string;
  refresh_expires_in?: number;
}

/** How long a client command waits for each answer by default (`--request-timeout`, OGENT_REQUEST_TIMEOUT). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** What `ogent doctor` would find, as the error that ends a client command: exit 4, the controller cannot be used. */
export function unusableError(base: string, d: Diagnosis): UserError {
  return unreachableError(
    d.kind === 'http' ? d.message : `cannot reach the controller at ${base}: ${d.message}`,
    d.advice,
  );
}

/** Maps a failed request to exit code 4 with what to check, in `ogent doctor`'s words. */
function networkError(base: string, err: unknown, timeoutMs?: number): UserError {
  const tls = certificateError(base, err);
  if (tls) return tls;
  const url = new URL(base);
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const d = diagnose(err, { host: url.hostname.replace(/^\[|\]$/g, ''), port, timeoutMs });
  if (timeoutMs && d.code === 'ETIMEDOUT') {
    d.advice = `it may be frozen or overloaded; wait longer with --request-timeout (or OGENT_REQUEST_TIMEOUT), or run \`ogent doctor\``;
  }
  return unusableError(base, d);
}

/** Whether an answer can be an ogent controller's: JSON, with `{error}` when it refuses (`{status}` from /healthz). */
function fromController(status: number, contentType: string, body: unknown): boolean {
  if (!contentType.includes('application/json')) return false;
  const fields = body as { error?: unknown; status?: unknown } | undefined;
  return (status >= 200 && status < 300) || typeof fields?.error === 'string' || typeof fields?.status === 'string';
}

export interface RequestInit {
  method?: string;
  token?: string;
  body?: unknown;
  form?: Record<string, string>;
  timeoutMs?: number;
  /** PEM to trust for an https:// controller (`--ca FILE`), besides the system's CAs. */
  ca?: string;
  /** Gives up on the request (its socket is destroyed, the promise rejects). */
  signal?: AbortSignal;
}

/** One request to the controller; resolves with the answer's head, its body still to be read. */
function send(
  base: string,
  path: string,
  init: {
    method: string;
    headers: Record<string, string>;
    body?: string;
    timeoutMs: number;
    ca?: string;
    signal?: AbortSignal;
  },
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const url = new URL(`${base}${path}`);
    const options = {
      method: init.method,
      headers: init.headers,
      timeout: init.timeoutMs,
      ...(init.signal ? { signal: init.signal } : {}),
    };
    const req =
      url.protocol === 'https:'
        ? httpsRequest(url, { ...options, ...(init.ca ? { ca: init.ca } : {}) }, resolve)
        : httpRequest(url, options, resolve);
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', (err) => reject(networkError(base, err, init.timeoutMs)));
    req.end(init.body);
  });
}

async function readText(res: IncomingMessage): Promise<string> {
  res.setEncoding('utf8');
  let text = '';
  for await (const chunk of res) text += chunk as string;
  return text;
}

export async function request<T>(
  base: string,
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; body: T; text: string }> {
  const headers: Record<string, string> = { accept: 'application/json', [VERSION_HEADER]: VERSION };
  let body: string | undefined;
  if (init.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(init.form).toString();
  } else if (init.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(init.body);
  }
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  const timeoutMs = init.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const res = await send(base, path, {
    method: init.method ?? (body === undefined ? 'GET' : 'POST'),
    headers,
    body,
    timeoutMs,
    ca: init.ca,
    signal: init.signal,
  });
  let text: string;
  try {
    text = await readText(res);
  } catch (err) {
    throw networkError(base, err, timeoutMs);
  }
  const contentType = res.headers['content-type'] ?? '';
  let parsed: unknown = undefined;
  if (contentType.includes('application/json') && text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
  }
  const status = res.statusCode ?? 0;
  if (!fromController(status, contentType, parsed)) throw unusableError(base, notAController(base, status, path));
  return { status, body: parsed as T, text };
}

interface ApiErrorBody {
  error?: string;
  message?: string;
}

/** A status whose code this release does not know: the exit code `apiError` gives it. */
function exitOfStatus(status: number): ExitName {
  if (status === 400) return 'usage';
  return status === 401 || status === 403 || status === 429 ? 'auth' : 'runsFailed';
}

/** Turns a non-2xx answer into the UserError with the exit code of its `error` (protocol/error-codes.ts). */
export function apiError(status: number, body: ApiErrorBody | undefined, what: string): UserError {
  const message = body?.message ?? body?.error ?? `HTTP ${status}`;
  const code = isErrorCode(body?.error) && ERROR_CODES[body.error].status === status ? body.error : undefined;
  const exit = EXIT[code ? ERROR_CODES[code].exit : exitOfStatus(status)];
  const fail = (text: string, errCode: string, suggestion?: string) =>
    new UserError(text, { code: errCode, exit, ...(suggestion ? { suggestion } : {}) });
  if (status === 401) {
    if (code === 'token_expired') {
      return fail('token expired', 'ERR_TOKEN_EXPIRED', 'run `ogent login` again, or set OGENT_USERNAME and OGENT_PASSWORD');
    }
    if (code === 'invalid_grant') return fail(`login refused: ${message}`, 'ERR_AUTH', 'check the user name and password');
    return fail(`not authenticated: ${message}`, 'ERR_AUTH', 'run `ogent login`, or set OGENT_TOKEN');
  }
  if (status === 403) return fail(`permission refused: ${message}`, 'ERR_FORBIDDEN', 'ask an admin for a role that allows it');
  if (code === 'no_agents_matched') return fail(message, 'ERR_NO_MATCH', 'list agents with `ogent agents`');
  if (status === 400) return fail(`${what}: ${message}`, 'ERR_USAGE');
  if (status === 404) return fail(message, 'ERR_NOT_FOUND');
  if (status === 429) return fail(`${what}: ${message}`, 'ERR_RATE_LIMITED', 'wait and try again');
  if (code === 'too_many_connections') return tooManyConnections(message);
  if (code === VERSION_UNSUPPORTED) return versionUnsupported(message);
  return fail(`${what}: ${message}`, 'ERR_API');
}

// Each name of the table is one of EXIT's.
EXIT satisfies Record<ExitName, ExitCode>;

/**
 * The controller turned this connection away past one of its caps (per address, per user): exit 4, as when it
 * cannot be reached, since waiting may be all it takes (an agent starting goes on retrying).
 */
export function tooManyConnections(message: string): UserError {
  return new UserError(`the controller refused the connection: ${message}`, {
    code: 'ERR_TOO_MANY_CONNECTIONS',
    exit: EXIT.unreachable,
    suggestion: 'close other connections or wait; if many hosts share this address (NAT), the admin can raise the cap',
  });
}

/**
 * The controller does not accept this release (README "Versions and upgrades"): exit 4, as for a server this client
 * cannot use. The message names both versions and what to upgrade; waiting or retrying cannot help.
 */
export function versionUnsupported(message: string): UserError {
  return new UserError(`the controller refused this version of ogent: ${message}`, {
    code: 'ERR_VERSION_UNSUPPORTED',
    exit: EXIT.unreachable,
    suggestion: 'upgrade controllers first, then agents and clients, one minor release at a time',
  });
}

/** A GET whose body the caller streams (any size, with backpressure). */
export async function openStream(
  base: string,
  path: string,
  token: string,
  ca?: string,
  timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS,
): Promise<{ status: number; body: IncomingMessage; text(): Promise<string> }> {
  const res = await send(base, path, {
    method: 'GET',
    headers: { authorization: `Bearer ${token}`, [VERSION_HEADER]: VERSION },
    timeoutMs,
    ca,
  });
  // The timeout was for the answer to start: a slow reader (a paused pipe) must not cut the body off.
  res.socket?.setTimeout(0);
  return { status: res.statusCode ?? 0, body: res, text: () => readText(res) };
}

export async function login(
  base: string,
  username: string,
  password: string,
  ca?: string,
  timeoutMs?: number,
): Promise<TokenResponse> {
  const res = await request<TokenResponse & ApiErrorBody>(base, '/token', {
    form: { username, password },
    ca,
    timeoutMs,
  });
  if (res.status !== 200) throw apiError(res.status, res.body, 'login');
  return res.body;
}

/** A new access token for a refresh token: the answer, or 401 when its session ended (its body says why). */
export async function refreshLogin(base: string, refreshToken: string, ca?: string, timeoutMs?: number) {
  return request<TokenResponse & ApiErrorBody>(base, '/token', {
    form: { grant_type: 'refresh_token', refresh_token: refreshToken },
    ca,
    timeoutMs,
  });
}

/** Ends the session of `refreshToken` on the controller (every controller of a cluster). */
export async function revokeSession(base: string, refreshToken: string, ca?: string, timeoutMs?: number) {
  const res = await request<ApiErrorBody>(base, '/api/v1/logout', {
    body: { refresh_token: refreshToken },
    ca,
    timeoutMs,
  });
  if (res.status !== 200) throw apiError(res.status, res.body, 'logout');
}

import { authError, EXIT, UserError, unreachableError, usageError } from '../lib/errors.js';

export interface TokenResponse {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
}

export function normalizeUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw.includes('://') ? raw : `http://${raw}`);
  } catch {
    throw usageError(`invalid controller URL "${raw}"`, 'pass e.g. --controller http://127.0.0.1:8600');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw usageError(`invalid controller URL "${raw}": use http:// or https://`);
  }
  return url.origin;
}

/** Maps a failed fetch to exit code 4 with what to check. */
function networkError(base: string, err: unknown): UserError {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const why = cause?.code ?? cause?.message ?? (err as Error).message;
  return unreachableError(
    `cannot reach the controller at ${base} (${why})`,
    'check that `ogent controller serve` runs there, or pass --controller / set OGENT_CONTROLLER',
  );
}

export async function request<T>(
  base: string,
  path: string,
  init: { method?: string; token?: string; body?: unknown; form?: Record<string, string>; timeoutMs?: number } = {},
): Promise<{ status: number; body: T; text: string }> {
  const headers: Record<string, string> = { accept: 'application/json' };
  let body: string | undefined;
  if (init.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(init.form).toString();
  } else if (init.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(init.body);
  }
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method: init.method ?? (body === undefined ? 'GET' : 'POST'),
      headers,
      body,
      signal: AbortSignal.timeout(init.timeoutMs ?? 30_000),
    });
  } catch (err) {
    throw networkError(base, err);
  }
  const text = await res.text();
  let parsed: unknown = undefined;
  if ((res.headers.get('content-type') ?? '').includes('application/json') && text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
  }
  return { status: res.status, body: parsed as T, text };
}

interface ApiErrorBody {
  error?: string;
  message?: string;
}

/** Turns a non-2xx answer into the UserError with the right exit code. */
export function apiError(status: number, body: ApiErrorBody | undefined, what: string): UserError {
  const message = body?.message ?? body?.error ?? `HTTP ${status}`;
  if (status === 401) {
    if (body?.error === 'token_expired') {
      return authError(
        'token expired',
        'run `ogent login` again, or set OGENT_USERNAME and OGENT_PASSWORD',
        'ERR_TOKEN_EXPIRED',
      );
    }
    if (body?.error === 'invalid_grant')
      return authError(`login refused: ${message}`, 'check the user name and password');
    return authError(`not authenticated: ${message}`, 'run `ogent login`, or set OGENT_TOKEN');
  }
  if (status === 403)
    return authError(`permission refused: ${message}`, 'ask an admin for a role that allows it', 'ERR_FORBIDDEN');
  if (status === 422 && body?.error === 'no_agents_matched') {
    return new UserError(message, {
      code: 'ERR_NO_MATCH',
      exit: EXIT.noMatch,
      suggestion: 'list agents with `ogent agents`',
    });
  }
  if (status === 400) return usageError(`${what}: ${message}`);
  if (status === 404) return new UserError(message, { code: 'ERR_NOT_FOUND', exit: EXIT.runsFailed });
  if (status === 429) return authError(`${what}: ${message}`, 'wait and try again', 'ERR_RATE_LIMITED');
  return new UserError(`${what}: ${message}`, { code: 'ERR_API', exit: EXIT.runsFailed });
}

/** A GET whose body the caller streams. */
export async function openStream(base: string, path: string, token: string): Promise<Response> {
  try {
    return await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
  } catch (err) {
    throw networkError(base, err);
  }
}

export async function login(base: string, username: string, password: string): Promise<TokenResponse> {
  const res = await request<TokenResponse & ApiErrorBody>(base, '/token', { form: { username, password } });
  if (res.status !== 200) throw apiError(res.status, res.body, 'login');
  return res.body;
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError, storeUnavailable, TokenError } from '../../application/errors.js';
import { PayloadError } from '../../../protocol/validate.js';
import { LIMITS } from '../../../protocol/events.js';
import type { Logger } from '../../../lib/log.js';

export interface Request {
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  address: string;
  body(): Promise<unknown>;
}
export interface Reply {
  status: number;
  body?: unknown;
  text?: string;
  /** Streamed as is (octet-stream), with backpressure. */
  stream?: Readable;
  headers?: Record<string, string>;
}
type Handler = (req: Request) => Promise<Reply>;

const MAX_BODY = LIMITS.maxBodyBytes;

function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Past the limit the rest is read and dropped, so the client gets the 413 instead of a reset connection.
      if (size <= MAX_BODY) chunks.push(chunk);
    });
    req.on('error', reject);
    req.on('end', () => {
      if (size > MAX_BODY) {
        return reject(new AppError('payload_too_large', `request body is larger than ${MAX_BODY} bytes`));
      }
      const text = Buffer.concat(chunks).toString('utf8');
      const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim();
      if (text === '') return resolve({});
      if (type === 'application/x-www-form-urlencoded') return resolve(Object.fromEntries(new URLSearchParams(text)));
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new AppError('invalid_request', 'request body is not valid JSON'));
      }
    });
  });
}

/** A minimal router: `METHOD /path/:param`, JSON in and out, every error mapped to `{error, message}`. */
export class Router {
  private readonly routes: Array<{ method: string; re: RegExp; keys: string[]; handler: Handler }> = [];

  /** Scale-out: why the store cannot be used now; an unexpected failure meanwhile is a 503 saying so, not a 500. */
  unavailable?: () => string | undefined;

  /** Checked before a route's handler runs; throws (an AppError) to refuse the request, e.g. for its client's version. */
  admit?: (req: Request) => void;

  constructor(private readonly log: Logger) {}

  on(method: string, pattern: string, handler: Handler): this {
    const keys: string[] = [];
    const re = new RegExp(
      `^${pattern.replace(/:([a-zA-Z]+)/g, (_m, key: string) => {
        keys.push(key);
        return '([^/]+)';
      })}/?$`,
    );
    this.routes.push({ method, re, keys, handler });
    return this;
  }

  /** Answers one request; never rejects: whatever fails is this request's 500 (logged), not the process's end. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      this.write(res, await this.reply(req));
    } catch (err) {
      // Headers may be out already (a write that broke): all that is left is to drop the connection.
      this.log.error('response not sent', { error: (err as Error).stack ?? String(err) });
      res.destroy();
    }
  }

  /** The reply, serialised: a body that cannot be (past V8's longest string, say) fails here, as the request's 500. */
  private async reply(req: IncomingMessage): Promise<Reply & { json?: string }> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    try {
      const reply = await this.dispatch(req, url);
      return reply.stream || reply.text !== undefined ? reply : { ...reply, json: serialise(reply.body) };
    } catch (err) {
      const down = isUnexpected(err) ? this.unavailable?.() : undefined;
      const reply = toReply(down ? storeUnavailable(down) : err, this.log);
      return { ...reply, json: serialise(reply.body) };
    }
  }

  private write(res: ServerResponse, reply: Reply & { json?: string }): void {
    const headers: Record<string, string> = { 'cache-control': 'no-store', ...reply.headers };
    if (reply.stream) {
      res.writeHead(reply.status, { 'content-type': 'application/octet-stream', ...headers });
      pipeline(reply.stream, res).catch((err: Error) =>
        this.log.warn('response stream broken', { error: err.message }),
      );
    } else if (reply.text !== undefined) {
      res.writeHead(reply.status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
      res.end(reply.text);
    } else {
      res.writeHead(reply.status, { 'content-type': 'application/json', ...headers });
      res.end(reply.json ?? '');
    }
  }

  private async dispatch(req: IncomingMessage, url: URL): Promise<Reply> {
    let pathMatched = false;
    for (const route of this.routes) {
      const m = route.re.exec(url.pathname);
      if (!m) continue;
      pathMatched = true;
      if (route.method !== req.method) continue;
      const params: Record<string, string> = {};
      route.keys.forEach((k, i) => {
        try {
          params[k] = decodeURIComponent(m[i + 1] ?? '');
        } catch {
          throw new AppError('invalid_request', `${k} is not a valid URL component`);
        }
      });
      const request: Request = {
        method: req.method,
        path: url.pathname,
        params,
        query: url.searchParams,
        headers: req.headers,
        address: req.socket.remoteAddress ?? '',
        body: () => readBody(req),
      };
      this.admit?.(request);
      return route.handler(request);
    }
    if (pathMatched) throw new AppError('method_not_allowed', `${req.method} is not allowed on ${url.pathname}`);
    throw new AppError('not_found', `no route ${req.method} ${url.pathname}`);
  }
}

const serialise = (body: unknown) => (body === undefined ? '' : JSON.stringify(body));

/** Not one of the errors requests are answered with on purpose. */
export const isUnexpected = (err: unknown) =>
  !(err instanceof AppError) && !(err instanceof PayloadError) && !(err instanceof TokenError);

export function toReply(err: unknown, log: Logger): Reply {
  if (err instanceof AppError) return { status: err.status, body: { error: err.error, message: err.message } };
  if (err instanceof PayloadError) return { status: 400, body: { error: 'invalid_request', message: err.message } };
  if (err instanceof TokenError) {
    const error = err.code === 'ERR_TOKEN_EXPIRED' ? 'token_expired' : 'invalid_token';
    return {
      status: 401,
      body: { error, message: err.message },
      headers: { 'www-authenticate': `Bearer error="invalid_token"` },
    };
  }
  log.error('request failed', { error: (err as Error).stack ?? String(err) });
  return { status: 500, body: { error: 'internal', message: 'internal error; see the controller log' } };
}

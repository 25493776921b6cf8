import { pino, type Logger as Pino } from 'pino';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
export const LOG_LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface LoggerOptions {
  /** `json`: one JSON document a line; `pretty`: `time LEVEL msg k=v`. Default: pretty on a TTY, else json. */
  format?: 'json' | 'pretty';
  /** Colours in pretty lines; default: the stream is a TTY and NO_COLOR is not set. */
  color?: boolean;
}

/** Fields whose values never reach a log line, at the top level or one or two levels down (pino `redact`). */
const SECRET_KEYS = [
  'password',
  'newPassword',
  'token',
  'access_token',
  'accessToken',
  'refresh_token',
  'joinToken',
  'authorization',
  'cookie',
  'apiKey',
  'api_key',
  'secret',
  'privateKey',
];
export const REDACT_PATHS = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);
const CENSOR = '[redacted]';

/** Secrets that may hide inside a free-text value (an error message, a URL): JWTs and bearer credentials. */
const JWT = /eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*/g;
const BEARER = /\b(bearer|basic)\s+[^\s"',;]+/gi;
const scrubText = (text: string): string =>
  text.includes('eyJ') || /bearer|basic/i.test(text)
    ? text.replace(JWT, CENSOR).replace(BEARER, (_m, scheme: string) => `${scheme} ${CENSOR}`)
    : text;

function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrubText(value);
  if (depth > 2 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = scrub(v, depth + 1);
  return out;
}

const pinos = new WeakMap<Logger, Pino>();

function wrap(p: Pino): Logger {
  const logger: Logger = {
    debug: (msg, fields) => p.debug(fields ?? {}, scrubText(msg)),
    info: (msg, fields) => p.info(fields ?? {}, scrubText(msg)),
    warn: (msg, fields) => p.warn(fields ?? {}, scrubText(msg)),
    error: (msg, fields) => p.error(fields ?? {}, scrubText(msg)),
  };
  pinos.set(logger, p);
  return logger;
}

/**
 * pino on `stream` (stderr): JSON lines when it is not a TTY, readable lines on a TTY. No transports or worker
 * threads (they break in the single executable); secrets are redacted by key and by shape.
 */
export function createLogger(
  level: LogLevel = 'info',
  stream: NodeJS.WritableStream = process.stderr,
  options: LoggerOptions = {},
): Logger {
  const tty = Boolean((stream as NodeJS.WriteStream).isTTY);
  const format = options.format ?? (tty ? 'pretty' : 'json');
  const color = options.color ?? (tty && !process.env.NO_COLOR);
  const destination =
    format === 'pretty' ? { write: (line: string) => void stream.write(prettyLine(line, color)) } : stream;
  const p = pino(
    {
      level,
      // No pid/hostname on every line: log shippers add the host, and `pid` is a field of ours (a command's).
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: CENSOR },
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => scrub(object) as Record<string, unknown>,
      },
    },
    destination,
  );
  return wrap(p);
}

/** A logger that adds `fields` to every line (e.g. `{jobId}`); works with any Logger. */
export function withFields(log: Logger, fields: Record<string, unknown>): Logger {
  const p = pinos.get(log);
  if (p) return wrap(p.child(fields));
  const merge = (f?: Record<string, unknown>) => ({ ...fields, ...f });
  return {
    debug: (msg, f) => log.debug(msg, merge(f)),
    info: (msg, f) => log.info(msg, merge(f)),
    warn: (msg, f) => log.warn(msg, merge(f)),
    error: (msg, f) => log.error(msg, merge(f)),
  };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

const LEVEL_COLOR: Record<string, string> = { debug: '90', info: '36', warn: '33', error: '31', fatal: '31' };
const OMITTED = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

const show = (v: unknown): string => {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v) ?? String(v);
};

/** One pino JSON line as `12:03:04.567 INFO  msg key=value …`; a stack trace goes on the lines below. */
export function prettyLine(line: string, color = false): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const level = String(entry.level ?? 'info');
  const time = typeof entry.time === 'string' ? localTime(entry.time) : '';
  const label = level.toUpperCase().padEnd(5);
  const paint = (code: string | undefined, text: string) => (color && code ? `\x1b[${code}m${text}\x1b[0m` : text);
  const fields: string[] = [];
  const blocks: string[] = [];
  for (const [k, v] of Object.entries(entry)) {
    if (OMITTED.has(k)) continue;
    if (typeof v === 'string' && v.includes('\n')) blocks.push(`  ${paint('2', `${k}:`)}\n${v.replace(/^/gm, '    ')}`);
    else fields.push(`${paint('2', `${k}=`)}${show(v)}`);
  }
  const head = [paint('2', time), paint(LEVEL_COLOR[level], label), String(entry.msg ?? ''), ...fields]
    .filter((s) => s !== '')
    .join(' ');
  return `${[head, ...blocks].join('\n')}\n`;
}

function localTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

import { bool, int, object, optional, PayloadError, str, type Check } from './validate.js';

/** Piped standard input on the wire (docs/protocol.md §10): the client uploads it, each agent pulls it. */
export const STDIN_EV = {
  /** Client → controller, on `/clients`: bytes of a job's stdin at `offset`; acked once stored. */
  data: 'stdin_data',
  /** Client → controller: stdin ended after `size` bytes. */
  end: 'stdin_end',
  /** Agent → controller, on `/agents`: the stdin of a run from `offset`; the ack waits until there is some or its end. */
  read: 'stdin_read',
} as const;

export const STDIN_LIMITS = {
  /** A job's stdin is at most this large; past it the job is cancelled (big files go with `ogent cp`). */
  maxBytes: 64 * 1024 * 1024,
  /** One `stdin_data` or `stdin_read` answer carries at most this many bytes. */
  chunkBytes: 256 * 1024,
} as const;

const idCheck = str({ min: 1, max: 64, pattern: /^[A-Za-z0-9_-]+$/ });
/** Past the bound is the store's to refuse (it cancels the job), not a malformed message. */
const offsetCheck = int({ min: 0, max: 2 ** 40 });
/** Bytes as a binary attachment (a Buffer here; a Uint8Array from a browser-style client). */
const bytesCheck: Check<Buffer> = (v, path) => {
  const data = Buffer.isBuffer(v) ? v : v instanceof Uint8Array ? Buffer.from(v) : undefined;
  if (!data) throw new PayloadError(`${path} must be binary`);
  if (data.length > STDIN_LIMITS.chunkBytes) throw new PayloadError(`${path} is over ${STDIN_LIMITS.chunkBytes} bytes`);
  return data;
};

export interface StdinData {
  jobId: string;
  offset: number;
  data: Buffer;
}
export const stdinDataCheck: Check<StdinData> = object({ jobId: idCheck, offset: offsetCheck, data: bytesCheck });

export interface StdinEnd {
  jobId: string;
  size: number;
}
export const stdinEndCheck: Check<StdinEnd> = object({ jobId: idCheck, size: offsetCheck });

/**
 * Ack of `stdin_data` / `stdin_end`: `size`, the bytes stored. Errors: `stdin_too_large` (the job is cancelled),
 * `job_finished` (nothing more is needed), `stdin_gap` (the controller has fewer bytes than `offset`: `size` says how
 * many), `not_found`, `forbidden`, `invalid_request`, `store_unavailable` (try again).
 */
export type StdinAck = { ok: true; size: number } | { ok: false; error: string; message: string; size?: number };

export interface StdinRead {
  runId: string;
  offset: number;
}
export const stdinReadCheck: Check<StdinRead> = object({ runId: idCheck, offset: offsetCheck });

/**
 * Ack of `stdin_read`: bytes from `offset` (empty when none came within the controller's hold time: ask again),
 * `eof` once they are the last. An error ends the run: `stdin_interrupted` (the upload stopped before its end),
 * `not_your_run`, `unknown_run`; `retry`: ask again later.
 */
export type StdinChunk = { ok: true; data: Buffer; eof: boolean } | { ok: false; error: string; message: string };
export const stdinChunkCheck: Check<StdinChunk> = (v, path) => {
  const fields = v as { ok?: unknown } | undefined;
  if (fields?.ok === true) {
    return { ok: true as const, ...object({ data: bytesCheck, eof: bool })(v, path) };
  }
  const failed = object({ error: str({ max: 64 }), message: str({ max: 4096 }), size: optional(int({ min: 0 })) })(
    v,
    path,
  );
  return { ok: false as const, error: failed.error, message: failed.message };
};

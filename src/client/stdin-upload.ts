import { fstatSync, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { isatty } from 'node:tty';
import type { Socket } from 'socket.io-client';
import { EXIT, UserError, usageError } from '../lib/errors.js';
import type { ClientsToServer, ServerToClients } from '../protocol/events.js';
import { STDIN_EV, STDIN_LIMITS, type StdinAck } from '../protocol/stdin.js';
import { request } from './http.js';
import type { Session } from './credentials.js';

type ClientSocket = Socket<ServerToClients, ClientsToServer>;

/** Pieces sent before the first is acknowledged: enough to keep a fast pipe flowing, bounded in memory. */
const WINDOW = 8;
const ACK_TIMEOUT_MS = 15_000;
const RETRY_MS = 250;
/** A gap that does not fill (the controller lost bytes it had acknowledged) ends the upload after this many tries. */
const GAP_TRIES = 200;

/**
 * Whether `exec` forwards its stdin (README, Standard input): never with `-n`, never a terminal's, never one known to
 * be empty (closed, /dev/null, an empty file): those give the process end-of-file at once on every release of the
 * agent, so they need no agent that can take stdin (cron runs with </dev/null).
 */
export function forwardsStdin(noStdin: boolean, fd = 0): boolean {
  if (noStdin) return false;
  let stat;
  try {
    stat = fstatSync(fd);
  } catch {
    return false;
  }
  if (isatty(fd)) return false;
  if (stat.isFile() && stat.size === 0) return false;
  if (stat.isCharacterDevice()) {
    const devNull = statSync('/dev/null', { throwIfNoEntry: false });
    if (devNull && devNull.rdev === stat.rdev) return false;
  }
  return true;
}

/** Refuses (exit 4) to send stdin to a controller that would drop it: its runs would read nothing, as if it were empty. */
export async function checkControllerTakesStdin(session: Session): Promise<void> {
  const { body } = await request<{ version?: string; capabilities?: string[] }>(session.controller, '/healthz', {
    timeoutMs: session.timeoutMs,
    ca: session.ca,
  });
  if (body?.capabilities?.includes('stdin')) return;
  throw new UserError(
    `the controller at ${session.controller} runs ogent ${body?.version ?? '(unknown version)'}, which cannot take stdin`,
    {
      code: 'ERR_CONTROLLER_INCOMPATIBLE',
      exit: EXIT.unreachable,
      suggestion: 'upgrade the controller, or pass -n (--no-stdin) to send no stdin',
    },
  );
}

/**
 * `exec --async` and `--ai`/`--review`, which do not send stdin: waits for `input`'s end or its first byte. Empty, the
 * job runs as with -n (end-of-file); a byte would be dropped, so it is refused (exit 2).
 */
export async function refuseUnsentStdin(input: Readable, what: string): Promise<void> {
  let bytes = 0;
  for await (const chunk of input) {
    bytes += (chunk as Buffer).length;
    if (bytes > 0) break;
  }
  input.destroy();
  if (bytes > 0) throw usageError(`${what} cannot send stdin`, 'drop it, or pass -n (--no-stdin) to send none');
}

/** How long `exec` waits for a pipe's first byte or its end before it creates the job anyway. */
export const PEEK_MS = 100;

/**
 * What a pipe holds within `graceMs`: `empty` (it ended with no byte: a script's or CI's `exec`, which then needs
 * nothing an older agent lacks), `data` (a byte came; it stays to be read), or `open` (neither yet). Only the
 * capability the job requires depends on this, never what the runs read: an `open` pipe that ends empty gives them
 * the same end-of-file.
 */
export function peekStdin(input: Readable, graceMs = PEEK_MS): Promise<'empty' | 'data' | 'open'> {
  return new Promise((resolve) => {
    const settle = (what: 'empty' | 'data' | 'open') => {
      clearTimeout(timer);
      input.off('readable', readable);
      input.off('end', ended);
      input.off('error', ended);
      resolve(what);
    };
    const ended = () => settle('empty');
    const readable = () => {
      const chunk = input.read() as Buffer | null;
      if (chunk === null) return; // at its end: 'end' follows
      input.unshift(chunk);
      settle('data');
    };
    const timer = setTimeout(() => settle('open'), graceMs);
    input.on('end', ended);
    input.on('error', ended);
    input.on('readable', readable);
  });
}

class Refused extends Error {
  constructor(readonly ack: { error: string; message: string }) {
    super(ack.message);
  }
}

/**
 * Streams `input` to a job as it is read (docs/protocol.md §10): pieces of at most 256 KiB with acks, a few in flight,
 * each sent again after a lost ack or a reconnect (the controller stores what it has not got, once), then the end.
 * Stops reading when `stop` is called (the job ended): a command that never reads stdin is not held up by it.
 */
export class StdinUpload {
  /** Why the upload failed (exit 2 past 64 MiB); the job was cancelled or had ended. */
  failure: UserError | undefined;
  private stopped = false;
  private done: Promise<void> | undefined;
  private socket: () => ClientSocket | undefined = () => undefined;

  constructor(
    private readonly input: Readable,
    /** Cancels the job when the upload cannot go on (the controller refused it for good). */
    private readonly cancel: (jobId: string) => Promise<unknown>,
  ) {}

  /** Starts reading and sending, over the connection `socket` gives (the one in use, after a failover too). */
  start(jobId: string, socket: () => ClientSocket | undefined): void {
    this.socket = socket;
    this.done ??= this.pump(jobId).catch((err: Error) => {
      // Past the bound the controller cancels the job: its end may reach exec before this refusal does.
      if (err instanceof Refused && err.ack.error === 'stdin_too_large') {
        this.stop();
        this.failure = usageError(err.message, 'copy large files with `ogent cp`, or pass -n (--no-stdin)');
        return;
      }
      if (this.stopped) return;
      this.stop();
      this.failure = new UserError(`stdin not sent: ${err.message}; job ${jobId} was cancelled`, {
        code: 'ERR_STDIN',
        exit: EXIT.runsFailed,
      });
      return this.cancel(jobId).then(
        () => {},
        () => {},
      );
    });
  }

  /** The job ended: nothing more is read or sent. */
  stop(): void {
    this.stopped = true;
    this.input.destroy();
  }

  /** Resolves when the upload has settled (ended, failed or stopped). */
  settled(): Promise<void> {
    return this.done ?? Promise.resolve();
  }

  /**
   * The job ended: stops reading, and waits at most `graceMs` for the answers to pieces still in flight, so a refusal
   * that crossed the job's end (past 64 MiB, the controller cancels the job) still sets `failure`.
   */
  async finish(graceMs = 1000): Promise<void> {
    this.stop();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.settled(), new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
  }

  private async pump(jobId: string): Promise<void> {
    let offset = 0;
    const inFlight: Array<Promise<void>> = [];
    for await (const read of this.input) {
      const chunk = read as Buffer;
      for (let at = 0; at < chunk.length && !this.stopped; at += STDIN_LIMITS.chunkBytes) {
        const data = chunk.subarray(at, at + STDIN_LIMITS.chunkBytes);
        const sent = this.deliver(STDIN_EV.data, { jobId, offset, data });
        // Awaited in turn below; a refusal meanwhile is not an unhandled rejection.
        sent.catch(() => {});
        inFlight.push(sent);
        offset += data.length;
        if (inFlight.length >= WINDOW) await inFlight.shift();
      }
      if (this.stopped) break;
    }
    // Also when stopped: a piece refused for good (past the bound) must be seen, whatever ended the job first.
    await Promise.all(inFlight);
    if (!this.stopped) await this.deliver(STDIN_EV.end, { jobId, size: offset });
  }

  /** Sends one piece (or the end) until it is acknowledged; throws Refused when the controller refuses it for good. */
  private async deliver(
    event: typeof STDIN_EV.data | typeof STDIN_EV.end,
    payload: { jobId: string; offset: number; data: Buffer } | { jobId: string; size: number },
  ): Promise<void> {
    for (let gaps = 0; !this.stopped;) {
      const socket = this.socket();
      if (!socket?.connected) {
        await sleep(RETRY_MS);
        continue;
      }
      let ack: StdinAck;
      try {
        ack = (await socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, payload)) as StdinAck;
      } catch {
        continue;
      }
      if (ack.ok) return;
      if (ack.error === 'job_finished') return this.stop();
      if (ack.error === 'store_unavailable' || (ack.error === 'stdin_gap' && ++gaps < GAP_TRIES)) {
        // An earlier piece is being sent again after a lost ack: this one follows it.
        await sleep(RETRY_MS);
        continue;
      }
      throw new Refused(ack);
    }
  }
}

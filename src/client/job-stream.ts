import { charBoundary } from '../lib/utf8.js';
import type { Job } from '../domain/model.js';
import { EV, progressBytes, type CommandProgress, type JobAck, type JobRequest } from '../protocol/events.js';
import { isTerminal } from '../domain/run-state.js';
import { unreachableError, UserError } from '../lib/errors.js';
import { apiError } from './http.js';
import type { Session } from './credentials.js';
import { connectClients, ControllerLink, type ClientSocket } from './controller-link.js';
import { OutputBackfill } from './output-backfill.js';
import { PrintLedger } from './print-ledger.js';
import { statusOf } from '../protocol/error-codes.js';
import type { JobEvents } from '../protocol/job-events.js';

export type { JobEvents } from '../protocol/job-events.js';

export interface FollowOptions {
  /** How long to keep trying when the controller goes away before giving up with exit 4. */
  patienceMs?: number;
  signal?: AbortSignal;
  /** A job just created: its stdin goes up the connection in use (stdin-upload.ts). */
  onCreated?(job: Job, socket: () => ClientSocket | undefined): void;
}

/** After a read of stored output broke, the job is asked for again this much later. */
const READ_RETRY_MS = 500;
/** The code of the error that cuts a read of stored output when the connection to the controller is lost. */
const LOST = 'ERR_LOST_CONNECTION';
const NETWORK_CODES = new Set([
  LOST,
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/** An error of the network or of a controller gone away (worth trying again), not a refusal or a bug. */
function lostConnection(err: Error & { code?: string }): boolean {
  if (err instanceof UserError) return err.code === 'ERR_UNREACHABLE';
  return NETWORK_CODES.has(err.code ?? '') || err.message === 'aborted';
}

/** Live output is decoded and printed in pieces of at most this many bytes (see the `command_progress` handler). */
const TEXT_PIECE = 64 * 1024;

/**
 * Follows one job over `/clients`: creates it (or attaches), prints output live, resolves with the finished job.
 * Events are handled one at a time, in the order they came: a job document can mean reading stored output (what
 * its text does not hold) before the live output after it is printed. The connection is a `ControllerLink`, what was
 * printed a `PrintLedger`, output not had live an `OutputBackfill`.
 */
export class JobStream {
  private readonly ledger: PrintLedger;
  private readonly backfill: OutputBackfill;
  private link: ControllerLink | undefined;

  constructor(
    private readonly session: Session,
    private readonly events: JobEvents,
  ) {
    this.ledger = new PrintLedger(events);
    this.backfill = new OutputBackfill(session, events, this.ledger, () => this.drained());
  }

  /** Creates the job over the socket, so no event between creation and subscription is missed. */
  create(request: JobRequest, options: FollowOptions = {}): Promise<Job> {
    return this.run({ create: request }, options);
  }

  follow(jobId: string, options: FollowOptions = {}): Promise<Job> {
    return this.run({ jobId }, options);
  }

  private async run(target: { create?: JobRequest; jobId?: string }, options: FollowOptions): Promise<Job> {
    const first = await connectClients(this.session);
    let jobId = target.jobId;
    return new Promise<Job>((resolve, reject) => {
      let settled = false;
      let retryTimer: NodeJS.Timeout | undefined;
      const done = (err: Error | null, job?: Job) => {
        if (settled) return;
        settled = true;
        clearTimeout(retryTimer);
        link.close();
        if (err) reject(err);
        else resolve(job as Job);
      };
      // Every event waits for the ones before it (a document may be filling output from the store).
      let queue = Promise.resolve();
      const inOrder = (work: () => void | Promise<void>) => {
        queue = queue.then(work).catch((err: Error) => (lostConnection(err) && !settled ? retry() : done(err)));
      };

      const onAck = async (ack: JobAck) => {
        if (!ack.ok) {
          return done(apiError(statusOf(ack.error), ack, target.create ? 'create job' : 'follow job'));
        }
        // A job being followed (not one just created) may have output relayed before this socket listened.
        if (jobId !== undefined) this.ledger.recheck();
        else if (target.create) options.onCreated?.(ack.job, () => link.socket);
        jobId = ack.job.id;
        await this.backfill.apply(ack.job);
        // Served again after a broken read: no longer away.
        link.served();
        if (ack.job.status !== 'running') done(null, ack.job);
      };

      let createSent = false;
      // Asks for the job as it is now (on a connect, a resync, a retry): its document fills in what was not printed.
      const subscribe = (s: ClientSocket) =>
        s.emit(EV.jobSubscribe, { jobId: jobId as string }, (a: JobAck) => inOrder(() => onAck(a)));
      // A read of stored output that broke (the controller went away mid-read, or its connection was lost while
      // reading): subscribing again answers with the job as it is, and what was not printed is read again from
      // there, from this controller or the one failed over to. --patience bounds the retries.
      const retry = () => {
        this.ledger.recheck();
        link.startAwayTimer();
        link.failOver();
        clearTimeout(retryTimer);
        retryTimer = setTimeout(() => {
          if (!settled && jobId && link.socket.connected) subscribe(link.socket);
        }, READ_RETRY_MS);
      };
      const connected = (s: ClientSocket) => {
        if (jobId) subscribe(s);
        else if (!createSent) {
          createSent = true;
          s.emit(EV.jobCreate, target.create, (a: JobAck) => inOrder(() => onAck(a)));
        } else {
          // Sending it again could run the command twice: say so instead.
          done(
            unreachableError(
              'the connection to the controller broke while the job was being created; it may or may not exist',
              'check `ogent jobs list` before running it again',
            ),
          );
        }
      };
      const wire = (s: ClientSocket) => {
        s.on(EV.commandProgress, (p) =>
          inOrder(async () => {
            if (p.jobId !== jobId || settled) return;
            await this.live(p);
          }),
        );
        s.on(EV.jobUpdate, (u) =>
          inOrder(async () => {
            if (u.jobId !== jobId || settled) return;
            // A run that ended without live output since a resync: its output comes from the store, before its end.
            if (this.ledger.unchecked(u.run.id) && isTerminal(u.run.status)) {
              const seen = this.ledger.seen(u.run.id);
              const behind = (u.run.stdoutBytes ?? 0) > seen.stdout || (u.run.stderrBytes ?? 0) > seen.stderr;
              if (behind || u.run.seq > seen.seq) await this.backfill.fillGap(u.jobId, u.run.id, u.run.seq);
              this.ledger.markChecked(u.run.id);
            }
            this.ledger.status(u.run);
          }),
        );
        // The controller stopped sending this job's live output (this client fell too far behind): subscribe again,
        // which answers with the job as it is now; its output not printed yet is read from the store.
        s.on(EV.jobResync, (n) =>
          inOrder(() => {
            if (n.jobId !== jobId || settled) return;
            this.ledger.recheck();
            subscribe(link.socket);
          }),
        );
        s.on(EV.jobFinished, (job) =>
          inOrder(async () => {
            if (job.id !== jobId) return;
            await this.backfill.apply(job);
            done(null, job);
          }),
        );
      };
      const link: ControllerLink = (this.link = new ControllerLink(this.session, first, options.patienceMs ?? 60_000, {
        jobId: () => jobId,
        connected,
        // A read of stored output from a controller that froze would wait forever: it is read again later.
        disconnected: () =>
          this.backfill.cut(Object.assign(new Error('lost the connection to the controller'), { code: LOST })),
        wire,
        fail: (err) => done(err),
      }));
      const detached = () => done(new UserError('detached', { code: 'ERR_DETACHED', exit: 1 }));
      // The user may detach while the socket is still connecting.
      if (options.signal?.aborted) detached();
      options.signal?.addEventListener('abort', detached, { once: true });
      link.startAwayTimer();
    });
  }

  /** A live chunk: printed unless it was already; a gap before it (after a resync) is read from the store first. */
  private async live(p: CommandProgress & { jobId: string; agent: string }) {
    if (this.ledger.unchecked(p.runId)) {
      if (p.seq > this.ledger.seen(p.runId).seq + 1) await this.backfill.fillGap(p.jobId, p.runId, p.seq - 1);
      this.ledger.markChecked(p.runId);
    }
    const seen = this.ledger.seen(p.runId);
    if (p.seq <= seen.seq) return;
    seen.seq = p.seq;
    // Binary attachments (whole UTF-8 characters); a string from an older controller.
    const bytes = typeof p.data === 'string' || Buffer.isBuffer(p.data) ? p.data : Buffer.from(p.data);
    seen[p.stream] += progressBytes(bytes);
    if (typeof bytes === 'string') this.events.output(p.agent, p.runId, p.stream, bytes);
    else if (this.events.outputBytes) this.events.outputBytes(p.agent, p.runId, p.stream, bytes);
    else {
      // Decoded in pieces of at most TEXT_PIECE bytes: strings that size stay in V8's young generation, where
      // garbage is cheap (a 256 KiB string is a "large object", collected only by a full mark-sweep).
      for (let at = 0; at < bytes.length;) {
        const end = charBoundary(bytes, at + TEXT_PIECE);
        this.events.output(p.agent, p.runId, p.stream, bytes.toString('utf8', at, end));
        at = end;
      }
    }
    await this.drained();
  }

  /** Waits while the renderer's output has not drained, reading nothing from the controller meanwhile. */
  private async drained() {
    const wait = this.events.blocked?.();
    if (!wait) return;
    // engine.io-client's websocket is a `ws` WebSocket here: pausing it stops reading its TCP connection.
    const ws = (this.link?.socket.io.engine as unknown as { transport?: { ws?: { pause?(): void; resume?(): void } } })
      ?.transport?.ws;
    ws?.pause?.();
    try {
      await wait;
    } finally {
      ws?.resume?.();
    }
  }
}

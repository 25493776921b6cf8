import { setTimeout as sleep } from 'node:timers/promises';
import { wsTransports } from '../lib/ws-transport.js';
import { StringDecoder } from 'node:string_decoder';
import type { Readable } from 'node:stream';
import { charBoundary } from '../lib/utf8.js';
import { io, type Socket } from 'socket.io-client';
import type { Job, Run, RunStatus } from '../domain/model.js';
import {
  briefOf,
  EV,
  NAMESPACE,
  progressBytes,
  type ClientsToServer,
  type JobAck,
  type JobRequest,
  type RunBrief,
  type ServerToClients,
} from '../protocol/events.js';
import { isTerminal } from '../domain/run-state.js';
import { authError, unreachableError, UserError } from '../lib/errors.js';
import { ApiClient } from './api.js';
import { apiError, request, tooManyConnections, versionUnsupported } from './http.js';
import { VERSION } from '../lib/version.js';
import { VERSION_UNSUPPORTED } from '../protocol/version.js';
import { certificateError } from './tls.js';
import type { Session } from './credentials.js';

/** What a renderer is told as a job unfolds; every output byte exactly once, in order per run and stream. */
export interface JobEvents {
  snapshot?(job: Job): void;
  output(agent: string, runId: string, stream: 'stdout' | 'stderr', data: string): void;
  /** The same output as bytes, when the renderer takes them (nothing decoded): then `output` gets none of it. */
  outputBytes?(agent: string, runId: string, stream: 'stdout' | 'stderr', data: Buffer): void;
  /** A run changed status (each status once). */
  runStatus(run: RunBrief): void;
  /**
   * While what `output` wrote has not drained (a slow pipe or terminal): a promise for when it has. The stream then
   * stops reading from the controller, which after 4 MiB stops sending this client live output and has it catch up
   * from the stored output later, so neither process buffers a fast run's output without limit.
   */
  blocked?(): Promise<void> | undefined;
}

export interface FollowOptions {
  /** How long to keep trying when the controller goes away before giving up with exit 4. */
  patienceMs?: number;
  signal?: AbortSignal;
}

type ClientSocket = Socket<ServerToClients, ClientsToServer>;
type OutputStream = 'stdout' | 'stderr';
/** Per run: the last seq printed, the bytes printed per stream, the last status told. */
interface Printed {
  seq: number;
  stdout: number;
  stderr: number;
  status: RunStatus;
}

/** After a `job_resync`, how long to wait for the controller to store the output this client missed. */
const GAP_WAIT_MS = 30_000;
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
 * its text does not hold) before the live output after it is printed.
 */
export class JobStream {
  private readonly printed = new Map<string, Printed>();
  /**
   * After a job document (subscribe, reconnect) or a `job_resync`, a run's live output may resume after chunks this
   * client never got (relayed before it listened, or dropped while it lagged): its first live chunk or its end is
   * checked against the stored output once (`checked`), and the gap is read from there.
   */
  private checking = false;
  private readonly checked = new Set<string>();
  private api: ApiClient | undefined;
  private socket: ClientSocket | undefined;
  /** The body of stored output being read, if any: cut when the connection to the controller is lost. */
  private reading: Readable | undefined;

  constructor(
    private readonly session: Session,
    private readonly events: JobEvents,
  ) {}

  /** Creates the job over the socket, so no event between creation and subscription is missed. */
  create(request: JobRequest, options: FollowOptions = {}): Promise<Job> {
    return this.run({ create: request }, options);
  }

  follow(jobId: string, options: FollowOptions = {}): Promise<Job> {
    return this.run({ jobId }, options);
  }

  private async connect(): Promise<ClientSocket> {
    await this.session.token();
    return io(`${this.session.controller}${NAMESPACE.clients}`, {
      transports: wsTransports(this.session.controller),
      ...(this.session.ca ? { ca: this.session.ca } : {}),
      // Asked again on every reconnect, so a session that logs in with OGENT_USERNAME/OGENT_PASSWORD can renew.
      auth: (cb) => {
        this.session.token().then(
          (token) => cb({ token, version: VERSION }),
          () => cb({ token: '', version: VERSION }),
        );
      },
      reconnectionDelay: 250,
      reconnectionDelayMax: 3000,
      // Never a connection shared with an earlier stream (one to a controller this one failed over from).
      forceNew: true,
    });
  }

  private async run(target: { create?: JobRequest; jobId?: string }, options: FollowOptions): Promise<Job> {
    let socket = await this.connect();
    this.socket = socket;
    const patience = options.patienceMs ?? 60_000;
    let jobId = target.jobId;
    return new Promise<Job>((resolve, reject) => {
      let settled = false;
      let awayTimer: NodeJS.Timeout | undefined;
      let retryTimer: NodeJS.Timeout | undefined;
      const stopping = new AbortController();
      const done = (err: Error | null, job?: Job) => {
        if (settled) return;
        settled = true;
        clearTimeout(awayTimer);
        clearTimeout(retryTimer);
        stopping.abort();
        socket.disconnect();
        if (err) reject(err);
        else resolve(job as Job);
      };
      let connected = false;
      // Never connected yet: bounded by --request-timeout, then said as `ogent doctor` would (frozen, no TLS…).
      const firstTimeout = Math.min(patience, this.session.timeoutMs ?? patience);
      const whyNotConnected = () =>
        request(this.session.controller, '/healthz', { timeoutMs: firstTimeout, ca: this.session.ca }).then(
          () =>
            unreachableError(`cannot connect to the controller at ${this.session.controller}`, 'run `ogent doctor`'),
          (err: Error) => err,
        );
      const startAwayTimer = () => {
        const first = !connected && jobId === undefined && (this.session.candidates?.length ?? 1) < 2;
        if (first) {
          awayTimer ??= setTimeout(() => void whyNotConnected().then((err) => !connected && done(err)), firstTimeout);
          return;
        }
        awayTimer ??= setTimeout(() => {
          const resume = jobId ? `; the job goes on: resume with \`ogent jobs wait ${jobId}\`` : '';
          const where =
            (this.session.candidates?.length ?? 0) > 1
              ? `any of the controllers (${this.session.candidates?.join(', ')})`
              : `the controller at ${this.session.controller}`;
          done(
            unreachableError(
              `cannot reach ${where}${resume}`,
              'check that `ogent controller serve` runs there, or pass --controller / set OGENT_CONTROLLER',
            ),
          );
        }, patience);
      };
      const detached = () => done(new UserError('detached', { code: 'ERR_DETACHED', exit: 1 }));
      // The user may detach while the socket is still connecting.
      if (options.signal?.aborted) detached();
      options.signal?.addEventListener('abort', detached, { once: true });

      // Every event waits for the ones before it (a document may be filling output from the store).
      let queue = Promise.resolve();
      const inOrder = (work: () => void | Promise<void>) => {
        queue = queue.then(work).catch((err: Error) => (lostConnection(err) && !settled ? retry() : done(err)));
      };

      const onAck = async (ack: JobAck) => {
        if (!ack.ok) {
          const status =
            { no_agents_matched: 422, forbidden: 403, not_found: 404, invalid_request: 400 }[ack.error] ?? 500;
          return done(apiError(status, ack, target.create ? 'create job' : 'follow job'));
        }
        // A job being followed (not one just created) may have output relayed before this socket listened.
        if (jobId !== undefined) this.recheck();
        jobId = ack.job.id;
        await this.apply(ack.job);
        // Served again after a broken read: no longer away.
        if (socket.connected) {
          clearTimeout(awayTimer);
          awayTimer = undefined;
        }
        if (ack.job.status !== 'running') done(null, ack.job);
      };

      let createSent = false;
      // Several controllers (a cluster sharing a Redis): when the one in use goes away, the job is followed on
      // another that answers healthy. The new connection subscribes again, which fills in what was missed. The
      // session's controller (the one HTTP reads go to) moves only once the new connection is made.
      let switching = false;
      const failOver = () => {
        const { probe, use } = this.session;
        if (switching || settled || !probe || !use || (this.session.candidates?.length ?? 0) < 2) return;
        switching = true;
        const from = this.session.controller;
        probe(stopping.signal)
          .then(async (healthy) => {
            if (!healthy || healthy === from || settled || socket.connected) return;
            use(healthy);
            const next = await this.connect().catch(() => undefined);
            // Failed, back meanwhile, or done: the connection in use stays, and so does its controller.
            if (!next || settled || socket.connected) {
              next?.disconnect();
              if (this.session.controller === healthy) use(from);
              return;
            }
            socket.removeAllListeners();
            socket.disconnect();
            socket = this.socket = next;
            wire(next);
          })
          .catch(() => {})
          .finally(() => (switching = false));
      };
      // A read of stored output that broke (the controller went away mid-read, or its connection was lost while
      // reading): subscribing again answers with the job as it is, and what was not printed is read again from
      // there, from this controller or the one failed over to. --patience bounds the retries.
      // Asks for the job as it is now (on a connect, a resync, a retry): its document fills in what was not printed.
      const subscribe = (s: ClientSocket) =>
        s.emit(EV.jobSubscribe, { jobId: jobId as string }, (a: JobAck) => inOrder(() => onAck(a)));
      const retry = () => {
        this.recheck();
        startAwayTimer();
        failOver();
        clearTimeout(retryTimer);
        retryTimer = setTimeout(() => {
          if (!settled && jobId && socket.connected) subscribe(socket);
        }, READ_RETRY_MS);
      };
      const wire = (s: ClientSocket) => {
        s.on('connect', () => {
          connected = true;
          clearTimeout(awayTimer);
          awayTimer = undefined;
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
        });
        s.on('connect_error', (err: Error & { data?: { code?: string; message?: string } }) => {
          const code = err.data?.code;
          if (code === 'ERR_TOKEN_EXPIRED') {
            return done(
              authError('token expired', 'run `ogent login` again, or set OGENT_USERNAME and OGENT_PASSWORD', code),
            );
          }
          if (code === 'ERR_TOO_MANY_CONNECTIONS') return done(tooManyConnections(err.data?.message ?? code));
          if (code === VERSION_UNSUPPORTED) return done(versionUnsupported(err.data?.message ?? code));
          if (code)
            return done(
              authError(`refused by the controller: ${err.data?.message ?? code}`, 'run `ogent login`', code),
            );
          // A certificate this client does not trust will not become trusted by waiting.
          const untrusted = certificateError(this.session.controller, err);
          if (untrusted) return done(untrusted);
          startAwayTimer();
          failOver();
        });
        s.on('disconnect', () => {
          if (settled) return;
          startAwayTimer();
          // A read of stored output from a controller that froze would wait forever: it is read again later.
          this.reading?.destroy(Object.assign(new Error('lost the connection to the controller'), { code: LOST }));
          failOver();
        });
        s.on(EV.commandProgress, (p) =>
          inOrder(async () => {
            if (p.jobId !== jobId || settled) return;
            if (this.checking && !this.checked.has(p.runId)) {
              if (p.seq > this.seen(p.runId).seq + 1) await this.fillGap(p.jobId, p.runId, p.seq - 1);
              this.checked.add(p.runId);
            }
            const seen = this.seen(p.runId);
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
          }),
        );
        s.on(EV.jobUpdate, (u) =>
          inOrder(async () => {
            if (u.jobId !== jobId || settled) return;
            // A run that ended without live output since a resync: its output comes from the store, before its end.
            if (this.checking && !this.checked.has(u.run.id) && isTerminal(u.run.status)) {
              const seen = this.seen(u.run.id);
              const behind = (u.run.stdoutBytes ?? 0) > seen.stdout || (u.run.stderrBytes ?? 0) > seen.stderr;
              if (behind || u.run.seq > seen.seq) await this.fillGap(u.jobId, u.run.id, u.run.seq);
              this.checked.add(u.run.id);
            }
            this.status(u.run);
          }),
        );
        // The controller stopped sending this job's live output (this client fell too far behind): subscribe again,
        // which answers with the job as it is now; its output not printed yet is read from the store.
        s.on(EV.jobResync, (n) =>
          inOrder(() => {
            if (n.jobId !== jobId || settled) return;
            this.recheck();
            subscribe(socket);
          }),
        );
        s.on(EV.jobFinished, (job) =>
          inOrder(async () => {
            if (job.id !== jobId) return;
            await this.apply(job);
            done(null, job);
          }),
        );
      };
      wire(socket);
      startAwayTimer();
    });
  }

  /** Waits while the renderer's output has not drained, reading nothing from the controller meanwhile. */
  private async drained() {
    const wait = this.events.blocked?.();
    if (!wait) return;
    // engine.io-client's websocket is a `ws` WebSocket here: pausing it stops reading its TCP connection.
    const ws = (this.socket?.io.engine as unknown as { transport?: { ws?: { pause?(): void; resume?(): void } } })
      ?.transport?.ws;
    ws?.pause?.();
    try {
      await wait;
    } finally {
      ws?.resume?.();
    }
  }

  private recheck() {
    this.checking = true;
    this.checked.clear();
  }

  private seen(runId: string) {
    let s = this.printed.get(runId);
    if (!s) {
      s = { seq: 0, stdout: 0, stderr: 0, status: 'queued' };
      this.printed.set(runId, s);
    }
    return s;
  }

  private status(run: RunBrief) {
    const seen = this.seen(run.id);
    if (seen.status === run.status) return;
    seen.status = run.status;
    this.events.runStatus(run);
  }

  /** A job document (on subscribe, reconnect, resync or finish): emit what was not yet printed, in order. */
  private async apply(job: Job) {
    this.events.snapshot?.(job);
    for (const run of job.runs) {
      await this.fill(job.id, run);
      const seen = this.seen(run.id);
      seen.seq = Math.max(seen.seq, run.seq);
      this.status(briefOf(run));
    }
  }

  /** Prints `run`'s output past what was printed, up to what its document counts: from its text, else from the store. */
  private async fill(jobId: string, run: Run) {
    const seen = this.seen(run.id);
    for (const stream of ['stdout', 'stderr'] as const) {
      const text = run[stream];
      const total = (stream === 'stdout' ? run.stdoutBytes : run.stderrBytes) ?? Buffer.byteLength(text);
      if (total <= seen[stream]) continue;
      // The document's text is the output only when it holds all of it and no byte was replaced (not UTF-8: U+FFFD).
      const whole = !(stream === 'stdout' ? run.stdoutTruncated : run.stderrTruncated) && !text.includes('\uFFFD');
      const bytes = whole ? Buffer.from(text) : undefined;
      if (bytes && bytes.length >= total) {
        this.events.output(run.agent.name, run.id, stream, bytes.subarray(seen[stream], total).toString());
        seen[stream] = total;
        await this.drained();
      } else await this.fromStore(jobId, run, stream, total);
    }
  }

  /** Streams bytes [printed, total) of a run's stored output: read from the first byte not printed. */
  private async fromStore(jobId: string, run: Run, stream: OutputStream, total: number) {
    const seen = this.seen(run.id);
    this.api ??= new ApiClient(this.session);
    const { body, start } = await this.api.outputFrom(jobId, run.id, stream, seen[stream]);
    this.reading = body;
    const decoder = new StringDecoder('utf8');
    let at = start;
    try {
      for await (const chunk of body) {
        const buf = chunk as Buffer;
        const from = Math.max(0, seen[stream] - at);
        const to = Math.min(buf.length, total - at);
        at += buf.length;
        if (to > from) {
          const part = buf.subarray(from, to);
          if (this.events.outputBytes) this.events.outputBytes(run.agent.name, run.id, stream, part);
          else {
            const text = decoder.write(part);
            if (text) this.events.output(run.agent.name, run.id, stream, text);
          }
          seen[stream] += to - from;
          await this.drained();
        }
        if (at >= total) break;
      }
    } finally {
      this.reading = undefined;
      body.destroy();
    }
    const rest = decoder.end();
    if (rest) this.events.output(run.agent.name, run.id, stream, rest);
  }

  /** Reads the job until the controller has stored `run` up to `seq` (or it ended), and prints that much of it. */
  private async fillGap(jobId: string, runId: string, seq: number) {
    this.api ??= new ApiClient(this.session);
    const until = Date.now() + GAP_WAIT_MS;
    for (;;) {
      const job = await this.api.job(jobId);
      const run = job.runs.find((r) => r.id === runId);
      if (!run) return;
      const stored = run.seq >= seq || isTerminal(run.status) || Date.now() > until;
      if (stored) {
        await this.fill(jobId, run);
        const seen = this.seen(runId);
        seen.seq = Math.max(seen.seq, run.seq);
        return;
      }
      await sleep(50);
    }
  }
}

import {
  LIMITS,
  type CommandProgress,
  type CommandResult,
  type ExecuteAck,
  type ExecuteCommand,
  type ResultAck,
} from '../protocol/events.js';
import { charBoundary, wholeCharsLength } from '../lib/utf8.js';
import type { Logger } from '../lib/log.js';
import type { Spawned } from '../lib/process.js';
import { buildExecutors, type Executor } from './executors/index.js';
import { jobIdOfRun } from '../domain/ids.js';
import { unknownRequirement } from '../domain/capabilities.js';
import { VERSION } from '../lib/version.js';
import { noAgentMetrics, type AgentMetrics } from './metrics.js';
import { policySubject, type CommandPolicy } from './policy.js';
import type { ResultSpool } from './spool.js';
import { feedStdin, type StdinReader } from './stdin-feed.js';

/** What the manager needs from the connection. */
export interface AgentLink {
  sendProgress(progress: CommandProgress): void;
  /** Resolves with the controller's ack, or rejects when there is none (disconnected, timeout). */
  sendResult(result: CommandResult): Promise<ResultAck>;
  /** True while the connection has more queued than it can send: output readers should pause until `drained`. */
  backlogged?(): boolean;
  drained?(): Promise<void>;
  /** Asks for a run's stdin (docs/protocol.md §10). */
  readStdin?: StdinReader;
}

interface Active {
  spawned?: Spawned;
  reason?: 'timed_out' | 'cancelled';
  /** Why it was cancelled when no user asked (the agent stopping). */
  note?: string;
  /** Why it failed though its process did not (its stdin could not be had). */
  failure?: string;
}

/** Output sent but not yet covered by an acknowledged result, kept to re-send after a reconnect. */
interface Unacked {
  list: CommandProgress[];
  bytes: number;
}
const UNACKED_MAX_BYTES = 16 * 1024 * 1024;
const RETRY_NOT_PERSISTED_MS = 5000;

const startFailure = (err: unknown) => `the command could not be run: ${(err as Error)?.message ?? String(err)}`;

const FLUSH_MS = 25;
/** Output is sent once this much is queued (or after FLUSH_MS); no chunk is larger than LIMITS.progressBytes. */
const FLUSH_BYTES = LIMITS.chunkBytes;
const CHUNK_MAX = LIMITS.progressBytes;

/** Runs what the controller sends: de-duplicates by runId, streams output in order, spools results until acked. */
export class AgentManager {
  private readonly active = new Map<string, Active>();
  private readonly unacked = new Map<string, Unacked>();
  private link: AgentLink | null = null;
  private readonly retries = new Set<NodeJS.Timeout>();
  /** Stopping: new runs are refused. */
  private draining = false;
  private graceTimer: NodeJS.Timeout | undefined;
  private readonly idleWaiters = new Set<() => void>();
  private readonly reportedWaiters = new Set<() => void>();

  constructor(
    private readonly spool: ResultSpool,
    private readonly log: Logger,
    private readonly executors: Record<string, Executor> = buildExecutors(),
    private readonly metrics: AgentMetrics = noAgentMetrics,
    /** `--allow` / `--deny`: checked before any executor is asked to run anything. */
    private readonly policy?: CommandPolicy,
  ) {
    // Output a previous run of the agent kept with its unacknowledged results: re-sent with them.
    for (const [runId, list] of spool.output()) {
      this.unacked.set(runId, { list, bytes: list.reduce((n, c) => n + c.data.length, 0) });
    }
  }

  get executorNames(): string[] {
    return Object.keys(this.executors);
  }

  get running(): number {
    return this.active.size;
  }

  /** A (re)connected link: re-send the output and results the controller has not acknowledged (it drops repeats by seq). */
  attach(link: AgentLink): void {
    this.link = link;
    for (const chunks of this.unacked.values()) for (const chunk of chunks.list) link.sendProgress(chunk);
    for (const result of this.spool.pending()) this.report(result);
  }

  detach(): void {
    this.link = null;
    for (const done of [...this.reportedWaiters]) done();
  }

  execute(cmd: ExecuteCommand): ExecuteAck {
    if (this.active.has(cmd.runId)) return { accepted: true };
    const spooled = this.spool.find(cmd.runId);
    if (spooled) {
      this.report(spooled);
      return { accepted: true };
    }
    if (this.spool.isDone(cmd.runId)) return { accepted: true };
    if (this.draining) return { accepted: false, reason: 'the agent is shutting down' };
    const unknown = unknownRequirement(cmd.requires, VERSION);
    if (unknown) return { accepted: false, reason: unknown };
    const executor = this.executors[cmd.executor];
    if (!executor) return { accepted: false, reason: `executor "${cmd.executor}" is not available on this agent` };
    const denied = this.policy?.refuse(policySubject(cmd.executor, cmd));
    if (denied) {
      this.log.warn('run refused by policy', { jobId: cmd.jobId, runId: cmd.runId, reason: denied });
      return { accepted: false, reason: denied };
    }
    const refusal = executor.refuse?.(cmd);
    if (refusal) return { accepted: false, reason: refusal };
    const run: Active = {};
    this.active.set(cmd.runId, run);
    const startedAt = new Date().toISOString();
    // Recorded before it starts, so a crash mid-run is reported as lost at the next start instead of silence.
    this.spool.accept(cmd.runId, cmd.jobId, startedAt).then(
      () => this.start(cmd, executor, run, startedAt),
      (err: Error) => {
        this.log.error('run not recorded in the spool; refusing it', {
          jobId: cmd.jobId,
          runId: cmd.runId,
          error: err.message,
        });
        void this.finish(cmd, run, startedAt, { exitCode: null, signal: null, error: `agent spool: ${err.message}` });
      },
    );
    return { accepted: true };
  }

  cancel(runId: string): void {
    const run = this.active.get(runId);
    if (!run || run.reason) return;
    run.reason = 'cancelled';
    run.spawned?.killTree();
  }

  /**
   * Graceful stop: refuses new runs, gives the running ones `graceMs` to finish, then cancels them; resolves when
   * every result is spooled. Called again with a shorter grace (a second signal), it cancels sooner.
   */
  async drain(graceMs: number): Promise<void> {
    this.draining = true;
    clearTimeout(this.graceTimer);
    if (this.active.size === 0) return;
    this.graceTimer = setTimeout(() => {
      for (const run of this.active.values()) {
        if (run.reason) continue;
        run.reason = 'cancelled';
        run.note = 'the agent was stopped before the command finished';
        run.spawned?.killTree(500);
      }
    }, graceMs);
    await new Promise<void>((resolve) => this.idleWaiters.add(resolve));
    clearTimeout(this.graceTimer);
  }

  /** Resolves once the controller acknowledged every spooled result, or the link is gone, or after `timeoutMs`. */
  whenReported(timeoutMs: number): Promise<void> {
    if (!this.link || this.spool.pending().length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.reportedWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.reportedWaiters.add(done);
    });
  }

  /** Before the agent exits: the output of results not acknowledged yet goes to the spool with them. */
  async keepUnreported(): Promise<void> {
    const pending = new Set(this.spool.pending().map((r) => r.runId));
    const kept: Record<string, CommandProgress[]> = {};
    for (const [runId, chunks] of this.unacked) if (pending.has(runId) && chunks.list.length) kept[runId] = chunks.list;
    await this.spool.keepOutput(kept);
  }

  /** Stops the retry timers (after `drain`). */
  close(): void {
    for (const t of this.retries) clearTimeout(t);
    clearTimeout(this.graceTimer);
  }

  private start(cmd: ExecuteCommand, executor: Executor, run: Active, startedAt: string): void {
    if (run.reason) {
      void this.finish(cmd, run, startedAt, { exitCode: null, signal: null });
      return;
    }
    let spawned: Spawned;
    try {
      spawned = executor.start(cmd);
    } catch (err) {
      // Whatever an executor throws ends this run, never the agent (it ran inside a promise: an unhandled rejection).
      void this.finish(cmd, run, startedAt, { exitCode: null, signal: null, error: startFailure(err) });
      return;
    }
    run.spawned = spawned;
    this.log.debug('run started', { runId: cmd.runId, jobId: cmd.jobId, pid: spawned.pid });
    const stopFeed = spawned.stdin
      ? feedStdin(
          cmd.runId,
          spawned.stdin,
          () => this.link?.readStdin,
          (reason) => {
            if (run.reason || run.failure) return;
            run.failure = reason;
            spawned.killTree();
          },
        )
      : undefined;

    let seq = 0;
    // Raw bytes, cut only between UTF-8 characters: an incomplete one at the end of a read waits for the next read.
    let queue: Array<{ stream: 'stdout' | 'stderr'; parts: Buffer[] }> = [];
    let queued = 0;
    const held: Record<'stdout' | 'stderr', Buffer | undefined> = { stdout: undefined, stderr: undefined };
    let timer: NodeJS.Timeout | undefined;
    const unacked: Unacked = { list: [], bytes: 0 };
    this.unacked.set(cmd.runId, unacked);
    const send = (stream: 'stdout' | 'stderr', data: Buffer) => {
      const chunk: CommandProgress = { runId: cmd.runId, seq: ++seq, stream, data };
      if (unacked.bytes + data.length <= UNACKED_MAX_BYTES) {
        unacked.list.push(chunk);
        unacked.bytes += data.length;
      }
      this.link?.sendProgress(chunk);
    };
    const enqueue = (stream: 'stdout' | 'stderr', data: Buffer) => {
      if (!data.length) return;
      const last = queue.at(-1);
      if (last?.stream === stream) last.parts.push(data);
      else queue.push({ stream, parts: [data] });
      queued += data.length;
    };
    const flush = (end = false) => {
      clearTimeout(timer);
      timer = undefined;
      if (end) {
        for (const stream of ['stdout', 'stderr'] as const) if (held[stream]) enqueue(stream, held[stream]);
        held.stdout = held.stderr = undefined;
      }
      for (const part of queue) {
        let data = part.parts.length === 1 ? (part.parts[0] as Buffer) : Buffer.concat(part.parts);
        while (data.length > CHUNK_MAX) {
          const cut = charBoundary(data, FLUSH_BYTES);
          send(part.stream, data.subarray(0, cut));
          data = data.subarray(cut);
        }
        send(part.stream, data);
      }
      queue = [];
      queued = 0;
      // Backpressure: a slow connection pauses the command's output (its pipe fills, the command waits).
      const link = this.link;
      if (!paused && link?.backlogged?.() && link.drained) {
        paused = true;
        spawned.pause();
        void link.drained().then(() => {
          paused = false;
          spawned.resume();
        });
      }
    };
    let paused = false;
    spawned.onOutput((stream, read) => {
      const before = held[stream];
      const data = before ? Buffer.concat([before, read]) : read;
      const whole = wholeCharsLength(data);
      held[stream] = whole < data.length ? Buffer.from(data.subarray(whole)) : undefined;
      enqueue(stream, whole < data.length ? data.subarray(0, whole) : data);
      if (queued >= FLUSH_BYTES) flush();
      else timer ??= setTimeout(flush, FLUSH_MS);
    });

    const timeout = setTimeout(() => {
      if (run.reason) return;
      run.reason = 'timed_out';
      spawned.killTree();
    }, cmd.timeoutMs);

    void spawned.done
      .catch((err: unknown) => ({ exitCode: null, signal: null, error: startFailure(err) }))
      .then(async (exit) => {
        stopFeed?.();
        clearTimeout(timeout);
        flush(true);
        await this.finish(cmd, run, startedAt, exit);
      });
  }

  private async finish(
    cmd: ExecuteCommand,
    run: Active,
    startedAt: string,
    exit: { exitCode: number | null; signal: string | null; error?: string },
  ): Promise<void> {
    const status = run.reason ?? (exit.error || run.failure ? 'failed' : exit.exitCode === 0 ? 'succeeded' : 'failed');
    if (run.failure && !run.reason) exit = { ...exit, error: run.failure };
    const result: CommandResult = {
      runId: cmd.runId,
      status,
      exitCode: exit.exitCode,
      signal: exit.signal,
      startedAt,
      finishedAt: new Date().toISOString(),
      ...(exit.error
        ? { error: exit.error.slice(0, 4000) }
        : status === 'timed_out'
          ? { error: `timed out after ${cmd.timeoutMs} ms` }
          : run.note
            ? { error: run.note }
            : {}),
    };
    try {
      await this.spool.add(result);
    } catch (err) {
      this.log.error('result not spooled', { jobId: cmd.jobId, runId: cmd.runId, error: (err as Error).message });
    }
    this.active.delete(cmd.runId);
    this.metrics.runFinished(status);
    if (this.active.size === 0) {
      for (const idle of this.idleWaiters) idle();
      this.idleWaiters.clear();
    }
    this.report(result);
  }

  private report(result: CommandResult): void {
    const link = this.link;
    if (!link) return;
    const ids = { jobId: jobIdOfRun(result.runId), runId: result.runId };
    link
      .sendResult(result)
      .then(
        async (ack) => {
          if (!ack.ok && ack.error === 'not_persisted') {
            // The controller could not store it (full or read-only disk): keep it and try again.
            this.log.warn('controller could not persist the result; will retry', ids);
            const retry = setTimeout(() => {
              this.retries.delete(retry);
              // Output first (the controller keeps only what it has not stored), then the result.
              for (const chunk of this.unacked.get(result.runId)?.list ?? []) this.link?.sendProgress(chunk);
              this.report(result);
            }, RETRY_NOT_PERSISTED_MS);
            this.retries.add(retry);
            return;
          }
          // ok, or refused for good (unknown run, not ours, invalid): either way nothing to re-send.
          this.unacked.delete(result.runId);
          await this.spool.acknowledge(result.runId);
          if (this.spool.pending().length === 0) for (const done of [...this.reportedWaiters]) done();
          if (!ack.ok) this.log.warn('result refused by controller', { ...ids, error: ack.error });
        },
        (err: Error) => this.log.debug('result not acknowledged yet', { ...ids, error: err.message }),
      )
      .catch((err: Error) => this.log.error('spool not updated', { ...ids, error: err.message }));
  }
}

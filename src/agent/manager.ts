import type { CommandProgress, CommandResult, ExecuteAck, ExecuteCommand, ResultAck } from '../protocol/events.js';
import type { Logger } from '../lib/log.js';
import type { Spawned } from '../lib/process.js';
import { EXECUTORS, type Executor } from './executors/shell.js';
import type { ResultSpool } from './spool.js';

/** What the manager needs from the connection. */
export interface AgentLink {
  sendProgress(progress: CommandProgress): void;
  /** Resolves with the controller's ack, or rejects when there is none (disconnected, timeout). */
  sendResult(result: CommandResult): Promise<ResultAck>;
}

interface Active {
  spawned?: Spawned;
  reason?: 'timed_out' | 'cancelled';
}

/** Output sent but not yet covered by an acknowledged result, kept to re-send after a reconnect. */
interface Unacked {
  list: CommandProgress[];
  bytes: number;
}
const UNACKED_MAX_BYTES = 16 * 1024 * 1024;
const RETRY_NOT_PERSISTED_MS = 5000;

const FLUSH_MS = 25;
const FLUSH_BYTES = 32 * 1024;

/** Runs what the controller sends: de-duplicates by runId, streams output in order, spools results until acked. */
export class AgentManager {
  private readonly active = new Map<string, Active>();
  private readonly unacked = new Map<string, Unacked>();
  private link: AgentLink | null = null;
  private readonly retries = new Set<NodeJS.Timeout>();

  constructor(
    private readonly spool: ResultSpool,
    private readonly log: Logger,
    private readonly executors: Record<string, Executor> = EXECUTORS,
  ) {}

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
  }

  execute(cmd: ExecuteCommand): ExecuteAck {
    if (this.active.has(cmd.runId)) return { accepted: true };
    const spooled = this.spool.find(cmd.runId);
    if (spooled) {
      this.report(spooled);
      return { accepted: true };
    }
    if (this.spool.isDone(cmd.runId)) return { accepted: true };
    const executor = this.executors[cmd.executor];
    if (!executor) return { accepted: false, reason: `executor "${cmd.executor}" is not available on this agent` };
    const run: Active = {};
    this.active.set(cmd.runId, run);
    const startedAt = new Date().toISOString();
    // Recorded before it starts, so a crash mid-run is reported as lost at the next start instead of silence.
    this.spool.accept(cmd.runId, cmd.jobId, startedAt).then(
      () => this.start(cmd, executor, run, startedAt),
      (err: Error) => {
        this.log.error('run not recorded in the spool; refusing it', { runId: cmd.runId, error: err.message });
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

  /** Cancels every run and waits for their results to be spooled. */
  async stopAll(): Promise<void> {
    for (const t of this.retries) clearTimeout(t);
    const waits = [...this.active.values()].map((run) => {
      run.reason ??= 'cancelled';
      run.spawned?.killTree(500);
      return run.spawned?.done;
    });
    await Promise.allSettled(waits);
  }

  private start(cmd: ExecuteCommand, executor: Executor, run: Active, startedAt: string): void {
    if (run.reason) {
      void this.finish(cmd, run, startedAt, { exitCode: null, signal: null });
      return;
    }
    const spawned = executor({ command: cmd.command, env: cmd.env, cwd: cmd.cwd });
    run.spawned = spawned;
    this.log.debug('run started', { runId: cmd.runId, jobId: cmd.jobId, pid: spawned.pid });

    let seq = 0;
    let queue: Array<{ stream: 'stdout' | 'stderr'; data: string }> = [];
    let queued = 0;
    let timer: NodeJS.Timeout | undefined;
    const unacked: Unacked = { list: [], bytes: 0 };
    this.unacked.set(cmd.runId, unacked);
    const flush = () => {
      clearTimeout(timer);
      timer = undefined;
      for (const part of queue) {
        const chunk: CommandProgress = { runId: cmd.runId, seq: ++seq, ...part };
        if (unacked.bytes + part.data.length <= UNACKED_MAX_BYTES) {
          unacked.list.push(chunk);
          unacked.bytes += part.data.length;
        }
        this.link?.sendProgress(chunk);
      }
      queue = [];
      queued = 0;
    };
    spawned.onOutput((stream, data) => {
      const last = queue.at(-1);
      if (last?.stream === stream) last.data += data;
      else queue.push({ stream, data });
      queued += data.length;
      if (queued >= FLUSH_BYTES) flush();
      else timer ??= setTimeout(flush, FLUSH_MS);
    });

    const timeout = setTimeout(() => {
      if (run.reason) return;
      run.reason = 'timed_out';
      spawned.killTree();
    }, cmd.timeoutMs);

    void spawned.done.then(async (exit) => {
      clearTimeout(timeout);
      flush();
      await this.finish(cmd, run, startedAt, exit);
    });
  }

  private async finish(
    cmd: ExecuteCommand,
    run: Active,
    startedAt: string,
    exit: { exitCode: number | null; signal: string | null; error?: string },
  ): Promise<void> {
    const status = run.reason ?? (exit.error ? 'failed' : exit.exitCode === 0 ? 'succeeded' : 'failed');
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
          : {}),
    };
    try {
      await this.spool.add(result);
    } catch (err) {
      this.log.error('result not spooled', { runId: cmd.runId, error: (err as Error).message });
    }
    this.active.delete(cmd.runId);
    this.report(result);
  }

  private report(result: CommandResult): void {
    const link = this.link;
    if (!link) return;
    link
      .sendResult(result)
      .then(
        async (ack) => {
          if (!ack.ok && ack.error === 'not_persisted') {
            // The controller could not store it (full or read-only disk): keep it and try again.
            this.log.warn('controller could not persist the result; will retry', { runId: result.runId });
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
          if (!ack.ok) this.log.warn('result refused by controller', { runId: result.runId, error: ack.error });
        },
        (err: Error) => this.log.debug('result not acknowledged yet', { runId: result.runId, error: err.message }),
      )
      .catch((err: Error) => this.log.error('spool not updated', { runId: result.runId, error: err.message }));
  }
}

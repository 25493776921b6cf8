import { setTimeout as sleep } from 'node:timers/promises';
import { StringDecoder } from 'node:string_decoder';
import type { Readable } from 'node:stream';
import type { Job, Run } from '../domain/model.js';
import { isTerminal } from '../domain/run-state.js';
import { briefOf } from '../protocol/events.js';
import { ApiClient } from './api.js';
import type { Session } from './credentials.js';
import type { JobEvents } from '../protocol/job-events.js';
import type { PrintLedger } from './print-ledger.js';

/** After a `job_resync`, how long to wait for the controller to store the output this client missed. */
const GAP_WAIT_MS = 30_000;

type OutputStream = 'stdout' | 'stderr';

/**
 * Output a job stream did not get live: from a job document's text when it holds all of it, else read from the
 * controller's stored output (`GET …/output?offset=`), from the first byte not printed.
 */
export class OutputBackfill {
  private api: ApiClient | undefined;
  /** The body of stored output being read, if any: cut when the connection to the controller is lost. */
  private reading: Readable | undefined;

  constructor(
    private readonly session: Session,
    private readonly events: JobEvents,
    private readonly ledger: PrintLedger,
    /** Waits while the renderer's output has not drained. */
    private readonly drained: () => Promise<void>,
  ) {}

  /** Cuts a read of stored output in progress (a controller that froze would have it wait forever). */
  cut(err: Error): void {
    this.reading?.destroy(err);
  }

  /** A job document (on subscribe, reconnect, resync or finish): emit what was not yet printed, in order. */
  async apply(job: Job): Promise<void> {
    this.events.snapshot?.(job);
    for (const run of job.runs) {
      await this.fill(job.id, run);
      const seen = this.ledger.seen(run.id);
      seen.seq = Math.max(seen.seq, run.seq);
      this.ledger.status(briefOf(run));
    }
  }

  /** Reads the job until the controller has stored `run` up to `seq` (or it ended), and prints that much of it. */
  async fillGap(jobId: string, runId: string, seq: number): Promise<void> {
    this.api ??= new ApiClient(this.session);
    const until = Date.now() + GAP_WAIT_MS;
    for (;;) {
      const job = await this.api.job(jobId);
      const run = job.runs.find((r) => r.id === runId);
      if (!run) return;
      const stored = run.seq >= seq || isTerminal(run.status) || Date.now() > until;
      if (stored) {
        await this.fill(jobId, run);
        const seen = this.ledger.seen(runId);
        seen.seq = Math.max(seen.seq, run.seq);
        return;
      }
      await sleep(50);
    }
  }

  /** Prints `run`'s output past what was printed, up to what its document counts: from its text, else from the store. */
  private async fill(jobId: string, run: Run) {
    const seen = this.ledger.seen(run.id);
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
    const seen = this.ledger.seen(run.id);
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
}

import { isTerminal } from '../../../domain/run-state.js';
import { runnerOf } from '../../../domain/targets.js';
import { progressBytes, type CommandProgress } from '../../../protocol/events.js';
import type { JobBook } from './job-book.js';

/** Output kept inside the job document per run and stream; the rest is in the output store. */
export const DOC_OUTPUT_CAP = 64 * 1024;

/**
 * Run output (`command_progress`): stored in seq order per run, counted in the document after it is stored, repeats
 * dropped; while storage fails, the agent's re-sends fill the gap (docs/architecture.md §3.3).
 */
export class RunOutput {
  /** Highest seq received per run (stored ones are `run.seq`); repeats at or below it are dropped. */
  private readonly received = new Map<string, number>();
  /** Per run, output is stored in seq order: each chunk waits for the one before. */
  private readonly chains = new Map<string, Promise<void>>();
  /** Runs with output that could not be stored, waiting for the agent to send it again. */
  private readonly broken = new Set<string>();

  constructor(private readonly book: JobBook) {}

  /** Settles when the output received for `runId` so far is stored (or dropped). */
  stored(runId: string): Promise<void> | undefined {
    return this.chains.get(runId);
  }

  /** Some output of `runId` could not be stored: its result waits for the agent's re-send. */
  isBroken(runId: string): boolean {
    return this.broken.has(runId);
  }

  /** The run ended: nothing more is counted for it. */
  forget(runId: string): void {
    this.received.delete(runId);
    this.broken.delete(runId);
  }

  /** Output being stored (shutdown waits for it). */
  pending(): Promise<void>[] {
    return [...this.chains.values()];
  }

  /**
   * A chunk of output from an agent for a job active here; repeats (seq already seen) are dropped. Stored before it
   * counts in the document. Returns when the chunk is stored (or dropped), or undefined when it was refused at once.
   */
  progress(agentName: string, p: CommandProgress): Promise<void> | undefined {
    const found = this.book.findActiveRun(p.runId);
    if (!found || runnerOf(found.run).name !== agentName || isTerminal(found.run.status)) return undefined;
    const { job, run } = found;
    if (p.seq <= (this.received.get(run.id) ?? run.seq)) return undefined;
    // While storage is failing, only the stored seq counts, so the agent's re-sends fill the gap.
    if (!this.broken.has(run.id)) this.received.set(run.id, p.seq);
    if (run.status === 'dispatched') {
      // Output before the ack of execute_command (both in one read of the socket): the ack then finds the run
      // running and says nothing, so clients are told here.
      run.status = 'running';
      run.startedAt ??= new Date().toISOString();
      this.book.metrics.runStarted(run);
      this.book.changed(job, run);
    }
    this.book.notifier.progress(job.id, run.agent.name, p);
    const previous = this.chains.get(run.id) ?? Promise.resolve();
    const next = previous.then(async () => {
      if (p.seq <= run.seq) return;
      if (this.broken.has(run.id) && p.seq !== run.seq + 1) return;
      const bytes = p.stream === 'stdout' ? 'stdoutBytes' : 'stderrBytes';
      try {
        await this.book.output.append(job.id, run.id, p.stream, p.data);
      } catch (err) {
        this.broken.add(run.id);
        this.received.set(run.id, run.seq);
        // A write that failed part-way (the disk filled up in the middle of the chunk) leaves part of it in the
        // file: cut it back to what is counted, so the agent's re-send is stored once. Shrinking needs no space.
        await this.book.output.truncate(job.id, run.id, p.stream, run[bytes] ?? 0).catch(() => {});
        this.book.log.error('output not stored; waiting for the agent to send it again', {
          jobId: job.id,
          runId: run.id,
          error: (err as Error).message,
        });
        return;
      }
      this.broken.delete(run.id);
      run.seq = p.seq;
      const field = p.stream;
      run[bytes] = (run[bytes] ?? 0) + progressBytes(p.data);
      const truncated = field === 'stdout' ? 'stdoutTruncated' : 'stderrTruncated';
      // Past the cap nothing is decoded: the document says it is truncated, the bytes are in the output file.
      if (!run[truncated] && p.data.length) {
        // A chunk holds whole characters (the agent cuts between them); bytes that are not UTF-8 show as U+FFFD.
        const text = typeof p.data === 'string' ? p.data : p.data.toString('utf8');
        const room = DOC_OUTPUT_CAP - run[field].length;
        if (room >= text.length) run[field] += text;
        else {
          run[field] += text.slice(0, Math.max(0, room));
          run[truncated] = true;
        }
      }
      this.book.persistAfterOutput(job);
    });
    this.chains.set(run.id, next);
    void next.then(() => {
      if (this.chains.get(run.id) === next) this.chains.delete(run.id);
    });
    return next;
  }
}

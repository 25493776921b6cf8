import type { Job, Run } from '../../../domain/model.js';
import { planRollout } from '../../../domain/rollout.js';
import { isTerminal } from '../../../domain/run-state.js';
import { runnerOf } from '../../../domain/targets.js';
import type { JobBook } from './job-book.js';
import type { RunCompletion } from './run-completion.js';

/** Runs sent to agents per event-loop turn when a job starts. */
const DISPATCH_SLICE = 100;

/** Sends runs to their agents (`execute_command`), always after the document that says so is stored. */
export class Dispatcher {
  /** `--batch-wait`: per job, the timer that plans again when its next batch may start. */
  private readonly wakers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly book: JobBook,
    private readonly completion: RunCompletion,
  ) {}

  /** The rollout of `job` now (domain/rollout.ts); runs it settled are counted. Returns the runs to send. */
  plan(job: Job): Run[] {
    const { toSend, settled, wakeAt } = planRollout(job, (id) => this.book.gateway.isConnected(id));
    for (const run of settled) this.book.metrics.runFinished(run);
    if (wakeAt !== undefined) this.wakeAt(job, wakeAt);
    return toSend;
  }

  /**
   * Plans `job` again at `at` (the next batch, `--batch-wait`). The time is in the document (`nextBatchAt`): after a
   * restart or a takeover the sweep and the next plan find it there; this timer only makes it on time.
   */
  private wakeAt(job: Job, at: number): void {
    clearTimeout(this.wakers.get(job.id));
    const timer = setTimeout(
      () => {
        this.wakers.delete(job.id);
        if (!this.book.stopped && this.book.active.get(job.id) === job) this.pump(job);
      },
      Math.max(0, at - Date.now()),
    );
    timer.unref();
    this.wakers.set(job.id, timer);
  }

  /** Shutdown: no batch starts any more from here. */
  stop(): void {
    for (const timer of this.wakers.values()) clearTimeout(timer);
    this.wakers.clear();
  }

  /**
   * Sends runs a slice at a time, yielding to the event loop between slices: 1,000 sends in one go held it for
   * 100-200 ms (BENCHMARKS.md, store). A cancel that comes in between stops the rest from being sent at all.
   */
  dispatchAll(job: Job, runs: Run[], from = 0): void {
    if (this.book.stopped) return;
    for (const run of runs.slice(from, from + DISPATCH_SLICE)) {
      // Settled meanwhile (its agent went away, say): nothing to send.
      if (run.status !== 'dispatched') continue;
      if (job.cancelRequested) {
        this.completion.settle(job, run, 'cancelled', { error: 'cancelled before the agent could be reached' });
      } else this.dispatch(job, run);
    }
    if (from + DISPATCH_SLICE < runs.length) setImmediate(() => this.dispatchAll(job, runs, from + DISPATCH_SLICE));
  }

  /** Applies the rollout to a running job: stores what changed, then sends what it dispatched. */
  pump(job: Job): void {
    // Only queued runs can change here; most jobs have none left (this runs after every result).
    if (!job.runs.some((r) => r.status === 'queued')) return;
    const before = job.runs.map((r) => r.status);
    const nextBatchAt = job.nextBatchAt;
    const toSend = this.plan(job);
    const changed = job.runs.filter((r, i) => r.status !== before[i]);
    // A batch that ended: when the next may start is stored, so a restart keeps the wait (domain/rollout.ts).
    if (changed.length === 0 && job.nextBatchAt !== nextBatchAt) {
      this.book.jobs
        .put(job)
        .catch((err: Error) => this.book.log.error('job not persisted', { jobId: job.id, error: err.message }));
    }
    if (changed.length === 0) return;
    this.book.refresh(job);
    // As in finishRun: the job ends after the write that holds its end.
    const endsJob = job.status !== 'running';
    const stored = this.book.jobs.put(job);
    for (const run of changed) this.book.notifier.runUpdate(job, run.id);
    // Persisted before dispatch (docs/protocol.md §7).
    stored.then(
      () => {
        for (const run of toSend) this.dispatch(job, run);
        if (endsJob) this.completion.jobEnded(job);
      },
      (err: Error) => {
        this.book.log.error('job not persisted; runs stay queued', { jobId: job.id, error: err.message });
        for (const run of toSend) {
          run.status = 'queued';
          delete run.dispatchedAt;
        }
      },
    );
  }

  dispatch(job: Job, run: Run): void {
    this.book.gateway
      .execute(runnerOf(run).id, {
        runId: run.id,
        jobId: job.id,
        command: run.command ?? job.command,
        executor: job.executor,
        timeoutMs: job.timeoutMs,
        ...(job.env ? { env: job.env } : {}),
        ...(job.cwd ? { cwd: job.cwd } : {}),
        ...(job.args ? { args: job.args } : {}),
        ...(job.script ? { script: job.script } : {}),
        ...(run.via ? (job.sshTarget ? { sshTarget: job.sshTarget } : { sshHost: run.agent.name }) : {}),
        ...(job.requires?.length ? { requires: job.requires } : {}),
        ...(job.stdin ? { stdin: true } : {}),
      })
      .then(
        (ack) => {
          if (isTerminal(run.status)) return;
          if (!ack.accepted) {
            return this.completion.finishRun(job, run, 'rejected', { error: ack.reason ?? 'refused by agent' });
          }
          if (run.status === 'dispatched') {
            run.status = 'running';
            run.startedAt ??= new Date().toISOString();
            this.book.metrics.runStarted(run);
            this.book.changed(job, run);
          }
        },
        (err: Error) =>
          this.book.log.warn('dispatch not acknowledged', { jobId: job.id, runId: run.id, error: err.message }),
      )
      .catch((err: Error) =>
        this.book.log.error('run not persisted', { jobId: job.id, runId: run.id, error: err.message }),
      );
  }
}

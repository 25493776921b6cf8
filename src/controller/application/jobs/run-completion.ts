import { jobIdOfRun } from '../../../domain/ids.js';
import type { Job, Run, RunStatus } from '../../../domain/model.js';
import { runOf } from '../../../domain/rollout.js';
import { canTransition, isTerminal } from '../../../domain/run-state.js';
import { runnerOf } from '../../../domain/targets.js';
import type { CommandResult, ResultAck } from '../../../protocol/events.js';
import type { JobBook } from './job-book.js';
import type { RunOutput } from './run-output.js';

export interface RunEnd {
  finishedAt?: string;
  error?: string;
  exitCode?: number | null;
  signal?: string | null;
  startedAt?: string;
}

/**
 * How runs end: an agent's result (applied once, the first wins, acknowledged after it is stored), or the controller
 * deciding (lost, cancelled, rejected); and how a job ends with its last run.
 */
export class RunCompletion {
  /** Runs whose terminal status is being stored. */
  private readonly finishing = new Map<string, Promise<void>>();

  constructor(
    private readonly book: JobBook,
    private readonly output: RunOutput,
    /** A run ended and the job goes on: its queued runs may start now (the rollout). */
    private readonly afterRun: (job: Job) => void,
  ) {}

  /** Results being stored (shutdown waits for them). */
  pending(): Promise<void>[] {
    return [...this.finishing.values()];
  }

  /** A run's result, for a job this controller handles; acknowledged after it is persisted. */
  async result(agentName: string, r: CommandResult): Promise<ResultAck> {
    const received = performance.now();
    const job = this.book.active.get(jobIdOfRun(r.runId)) ?? (await this.book.jobs.get(jobIdOfRun(r.runId)));
    const run = job ? runOf(job, r.runId) : undefined;
    if (!job || !run) return { ok: false, error: 'unknown_run' };
    if (runnerOf(run).name !== agentName) {
      this.book.log.warn('result for a run of another agent refused', {
        jobId: job.id,
        runId: r.runId,
        agent: agentName,
      });
      return { ok: false, error: 'not_your_run' };
    }
    // A copy of this result may be being stored right now: its outcome decides (first wins, once stored).
    await this.finishing.get(run.id)?.catch(() => {});
    if (isTerminal(run.status)) return this.repeated(run);
    // The output came before the result on the same connection: store all of it first.
    await this.output.stored(run.id);
    // Some output could not be stored: refuse the result for now; the agent re-sends output, then the result.
    if (this.output.isBroken(run.id)) return { ok: false, error: 'not_persisted' };
    await this.finishing.get(run.id)?.catch(() => {});
    if (isTerminal(run.status)) return this.repeated(run);
    await this.finishRun(job, run, r.status, {
      finishedAt: r.finishedAt,
      error: r.error,
      exitCode: r.exitCode,
      signal: r.signal,
      startedAt: r.startedAt,
    });
    this.book.metrics.resultPersisted((performance.now() - received) / 1000);
    this.book.notifier.result(job.id, run.agent.name, r);
    return { ok: true };
  }

  /** A repeated result is acknowledged once the first is stored: the agent may drop it from its spool then. */
  private async repeated(run: Run): Promise<ResultAck> {
    await this.finishing.get(run.id)?.catch(() => {});
    return isTerminal(run.status) ? { ok: true } : { ok: false, error: 'not_persisted' };
  }

  async finishRun(job: Job, run: Run, status: RunStatus, extra: RunEnd): Promise<void> {
    if (!canTransition(run.status, status)) return;
    const runBefore = { ...run };
    const jobBefore = { status: job.status, summary: job.summary, finishedAt: job.finishedAt };
    if (extra.exitCode !== undefined) run.exitCode = extra.exitCode;
    if (extra.signal !== undefined) run.signal = extra.signal;
    if (extra.startedAt) run.startedAt = extra.startedAt;
    run.status = status;
    run.finishedAt = extra.finishedAt ?? new Date().toISOString();
    if (extra.error) run.error = extra.error;
    run.durationMs = run.startedAt ? Math.max(0, Date.parse(run.finishedAt) - Date.parse(run.startedAt)) : null;
    this.book.refresh(job);
    // Only the run whose end ends the job ends it, after its own write (which holds the whole job as it ended). Two
    // results at once: the first one's write may be done while the job, ended meanwhile by the second, waits for the
    // next write; ended then, `job_finished` went out while GET read an older document (the last output missing).
    const endsJob = job.status !== 'running';
    const stored = this.book.jobs.put(job);
    this.finishing.set(run.id, stored);
    try {
      await stored;
    } catch (err) {
      // Not stored (full or read-only disk): undo, so the agent's retry of this result is applied later.
      for (const key of Object.keys(run) as Array<keyof Run>) if (!(key in runBefore)) delete run[key];
      Object.assign(run, runBefore);
      Object.assign(job, jobBefore);
      throw err;
    } finally {
      if (this.finishing.get(run.id) === stored) this.finishing.delete(run.id);
    }
    this.output.forget(run.id);
    this.book.log.info('run finished', { jobId: job.id, runId: run.id, agent: run.agent.name, status });
    this.book.metrics.runFinished(run);
    this.book.notifier.runUpdate(job, run.id);
    if (endsJob) this.jobEnded(job);
    else this.afterRun(job);
  }

  /** `finishRun` whose failure is only logged (the controller decided; nobody waits for it). */
  settle(job: Job, run: Run, status: RunStatus, extra: RunEnd, what = 'run not persisted'): void {
    this.finishRun(job, run, status, extra).catch((err: Error) =>
      this.book.log.error(what, { jobId: job.id, runId: run.id, error: err.message }),
    );
  }

  jobEnded(job: Job): void {
    if (!this.book.active.delete(job.id)) return;
    // Written before the lease goes: nobody takes over a job that is finished.
    const cluster = this.book.cluster;
    if (cluster) {
      this.book.jobs.put(job).then(
        () => cluster.release(job.id),
        () => {},
      );
    }
    this.book.log.info('job finished', { jobId: job.id, status: job.status });
    this.book.metrics.jobFinished(job);
    this.book.notifier.jobFinished(job);
  }
}

import { isTerminal } from '../../../domain/run-state.js';
import { runnerOf } from '../../../domain/targets.js';
import type { Dispatcher } from './dispatch.js';
import type { JobBook } from './job-book.js';
import type { RunCompletion } from './run-completion.js';

/**
 * Runs whose agent went away or never answered (docs/architecture.md §3.6): lost after `lostAfterMs` away or past
 * their timeout and grace; re-sent when their agent comes back.
 */
export class LostRuns {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly book: JobBook,
    private readonly completion: RunCompletion,
    private readonly dispatcher: Dispatcher,
  ) {}

  /** Once a second: runs past their timeout and grace are lost; queued runs past `deliverWithinMs` are unreachable. */
  sweep(now = Date.now()): void {
    for (const job of [...this.book.active.values()]) {
      for (const run of job.runs) {
        if (run.status !== 'dispatched' && run.status !== 'running') continue;
        const since = Date.parse(run.dispatchedAt ?? run.startedAt ?? job.createdAt);
        if (now > since + job.timeoutMs + this.book.options.resultGraceMs) {
          const error = 'no result within the timeout and its grace period';
          this.completion.settle(job, run, 'lost', { error }, 'lost run not persisted');
        }
      }
      const due = job.deliverWithinMs !== undefined && now >= Date.parse(job.createdAt) + job.deliverWithinMs;
      // --batch-wait: the next batch's time passed (after a restart or a takeover no timer may be set for it).
      const batchDue = job.nextBatchAt !== undefined && now >= Date.parse(job.nextBatchAt);
      if (due || batchDue) this.dispatcher.pump(job);
    }
  }

  /** An agent went away: if it is not back within `lostAfterMs`, its unfinished runs are lost. */
  agentDisconnected(agentName: string): void {
    if (this.book.stopped) return;
    if (!this.hasUnfinishedRuns(agentName)) return;
    clearTimeout(this.timers.get(agentName));
    const { lostAfterMs } = this.book.options;
    const timer = setTimeout(() => {
      this.timers.delete(agentName);
      this.loseRuns(agentName, `agent ${agentName} did not come back within ${lostAfterMs} ms`);
    }, lostAfterMs);
    timer.unref();
    this.timers.set(agentName, timer);
  }

  /**
   * An agent (re)connected: runs still `dispatched` to it may never have arrived (a crash, a cut): send them again.
   * The agent de-duplicates by runId, so this re-reports and never re-runs.
   */
  agentConnected(agentName: string): void {
    clearTimeout(this.timers.get(agentName));
    this.timers.delete(agentName);
    for (const job of [...this.book.active.values()]) {
      for (const run of job.runs) {
        if (runnerOf(run).name === agentName && run.status === 'dispatched') this.dispatcher.dispatch(job, run);
      }
      if (job.runs.some((r) => runnerOf(r).name === agentName && r.status === 'queued')) this.dispatcher.pump(job);
    }
  }

  stop(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private hasUnfinishedRuns(agentName: string): boolean {
    for (const job of this.book.active.values()) {
      if (job.runs.some((r) => runnerOf(r).name === agentName && !isTerminal(r.status))) return true;
    }
    return false;
  }

  private loseRuns(agentName: string, error: string): void {
    for (const job of [...this.book.active.values()]) {
      for (const run of job.runs) {
        if (runnerOf(run).name === agentName && !isTerminal(run.status)) {
          const status = run.status === 'queued' ? 'unreachable' : 'lost';
          this.completion.settle(job, run, status, { error }, 'lost run not persisted');
        }
      }
    }
  }
}

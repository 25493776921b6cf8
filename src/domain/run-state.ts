import {
  TERMINAL_RUN_STATUSES,
  type Job,
  type JobStatus,
  type Run,
  type RunStatus,
  type Summary,
  type TerminalRunStatus,
} from './model.js';

const terminal = new Set<string>(TERMINAL_RUN_STATUSES);

export function isTerminal(status: RunStatus): status is TerminalRunStatus {
  return terminal.has(status);
}

/** Which run status may follow which: forward only, and a terminal status is final (first result wins). */
const NEXT: Record<RunStatus, readonly RunStatus[]> = {
  queued: ['dispatched', 'running', ...TERMINAL_RUN_STATUSES],
  dispatched: ['running', ...TERMINAL_RUN_STATUSES],
  running: TERMINAL_RUN_STATUSES,
  succeeded: [],
  failed: [],
  timed_out: [],
  cancelled: [],
  rejected: [],
  lost: [],
  unreachable: [],
  skipped: [],
};

export function canTransition(from: RunStatus, to: RunStatus): boolean {
  return NEXT[from].includes(to);
}

export function emptySummary(total = 0): Summary {
  const summary = { total } as Summary;
  for (const s of TERMINAL_RUN_STATUSES) summary[s] = 0;
  return summary;
}

export function summarize(runs: readonly Run[]): Summary {
  const summary = emptySummary(runs.length);
  for (const run of runs) if (isTerminal(run.status)) summary[run.status] += 1;
  return summary;
}

/** A job runs until every run is terminal; then succeeded if all succeeded, cancelled if cancelled, else failed. */
export function deriveJobStatus(job: Pick<Job, 'runs' | 'cancelRequested'>): JobStatus {
  if (job.runs.some((r) => !isTerminal(r.status))) return 'running';
  if (job.cancelRequested) return 'cancelled';
  return job.runs.every((r) => r.status === 'succeeded') ? 'succeeded' : 'failed';
}

/** Exit code of `exec` and `jobs wait` for a finished job (docs/protocol.md §8). */
export function jobExitCode(job: Pick<Job, 'status'>): 0 | 1 {
  return job.status === 'succeeded' ? 0 : 1;
}

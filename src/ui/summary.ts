import type { Job, Run } from '../domain/model.js';
import { TERMINAL_RUN_STATUSES } from '../domain/model.js';
import { formatDuration } from '../domain/duration.js';

const WORDS: Record<string, string> = { timed_out: 'timed out' };

/** `3 succeeded, 1 failed` — only the counts that are not zero. */
export function countsText(job: Pick<Job, 'summary'>): string {
  const parts = TERMINAL_RUN_STATUSES.filter((s) => job.summary[s] > 0).map(
    (s) => `${job.summary[s]} ${WORDS[s] ?? s}`,
  );
  const pending = job.summary.total - TERMINAL_RUN_STATUSES.reduce((n, s) => n + job.summary[s], 0);
  if (pending > 0) parts.push(`${pending} pending`);
  return parts.join(', ') || 'no runs';
}

export function elapsed(job: Pick<Job, 'createdAt' | 'finishedAt'>): number {
  return (job.finishedAt ? Date.parse(job.finishedAt) : Date.now()) - Date.parse(job.createdAt);
}

/** The one-line summary `exec` and `jobs wait` print on stderr. */
export function jobSummaryLine(job: Job): string {
  const n = job.summary.total;
  return `job ${job.id} ${job.status}: ${countsText(job)} (${n} agent${n === 1 ? '' : 's'}, ${formatDuration(elapsed(job))})`;
}

/** Why a run did not succeed, in a few words: `exit 1`, `timed out`, `rejected: reason`. */
export function runOutcome(run: Omit<Run, 'stdout' | 'stderr'>): string {
  const parts: string[] = [];
  if (run.status === 'failed' && run.exitCode !== null) parts.push(`exit ${run.exitCode}`);
  else parts.push(WORDS[run.status] ?? run.status);
  if (run.signal) parts.push(`signal ${run.signal}`);
  if (run.error) parts.push(run.error);
  return parts.join(', ');
}

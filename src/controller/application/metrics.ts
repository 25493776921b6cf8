import type { Job, Run } from '../../domain/model.js';

/** What the job service reports to monitoring; the Prometheus adapter lives in infrastructure/metrics.ts. */
export interface JobMetrics {
  jobCreated(job: Job): void;
  /** Once per job, when it ends. */
  jobFinished(job: Job): void;
  /** A run went from dispatched to running (its `dispatchedAt` is set). */
  runStarted(run: Run): void;
  /** Once per run, when it reaches a terminal status. */
  runFinished(run: Run): void;
  /** From a `command_result` arriving to its run being stored. */
  resultPersisted(seconds: number): void;
}

export const noJobMetrics: JobMetrics = {
  jobCreated() {},
  jobFinished() {},
  runStarted() {},
  runFinished() {},
  resultPersisted() {},
};

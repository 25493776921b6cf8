import { jobRequestCheck, type JobRequest } from './events.js';
import { TERMINAL_RUN_STATUSES, type TerminalRunStatus } from '../domain/model.js';
import { array, bool, object, oneOf, optional, str, type Check } from './validate.js';

/** `POST /api/v1/plans`: ask the AI for a command (`generate`) or for a review of the job's command (`review`). */
export interface PlanRequest {
  mode: 'generate' | 'review';
  /** `generate`: what the user wants done, in their words. */
  request?: string;
  /** The job to run once confirmed; in `generate` mode without command, args or script. */
  job: JobRequest;
}
export const planRequestCheck: Check<PlanRequest> = object({
  mode: oneOf(['generate', 'review'] as const),
  request: optional(str({ min: 1, max: 4096 })),
  job: jobRequestCheck,
});

/** `POST /api/v1/plans/:id/run`: how the user confirmed it. */
export interface PlanApproval {
  confirmedWith: 'prompt' | 'yes';
  allowHighRisk: boolean;
}
export const planApprovalCheck: Check<PlanApproval> = object({
  confirmedWith: oneOf(['prompt', 'yes'] as const),
  allowHighRisk: (v, p) => (v === undefined ? false : bool(v, p)),
});

/** `POST /api/v1/jobs/:id/rerun` (`ogent jobs rerun`): the runs to run again by how they ended; none: every one that did not succeed. */
export interface RerunBody {
  statuses?: TerminalRunStatus[];
  all?: boolean;
}
export const rerunBodyCheck: Check<RerunBody> = object({
  statuses: optional(array(oneOf(TERMINAL_RUN_STATUSES), { min: 1, max: TERMINAL_RUN_STATUSES.length })),
  all: optional(bool),
});

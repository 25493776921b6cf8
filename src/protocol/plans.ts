import { jobRequestCheck, type JobRequest } from './events.js';
import { bool, object, oneOf, optional, str, type Check } from './validate.js';

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

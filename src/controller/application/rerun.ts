import { quoteArgv } from '../../domain/job-spec.js';
import { TERMINAL_RUN_STATUSES, type Job, type TerminalRunStatus } from '../../domain/model.js';
import type { JobRequest } from '../../protocol/events.js';
import { envViewOf } from './job-views.js';
import type { Identity } from './ports.js';
import { AppError, badRequest, noMatch } from './errors.js';

/** What `jobs rerun` picks without `--status`/`--all`: every run that did not succeed. */
export const RERUN_DEFAULT: readonly TerminalRunStatus[] = TERMINAL_RUN_STATUSES.filter((s) => s !== 'succeeded');

/** `POST /api/v1/jobs/:id/rerun`: which runs of the job to run again. */
export interface RerunPick {
  statuses?: TerminalRunStatus[];
  all?: boolean;
}

/**
 * The request of a new job that runs `job` again (README, `ogent jobs rerun`): the same command, executor, env, cwd
 * and rollout, on the targets whose runs ended with one of the picked statuses, by name. Throws the AppError to
 * answer: 409 while the job runs, 422 when no run is picked, 400 for an AI job (its runs have their own commands),
 * 403 when the job's env values are not the actor's to reuse (README, env redaction: admins and the creator only).
 */
export function rerunRequest(job: Job, pick: RerunPick, actor: Identity): JobRequest & { rerunOf: string } {
  if (job.status === 'running') {
    throw new AppError('job_running', `job ${job.id} is still running: wait for it (ogent jobs wait ${job.id})`);
  }
  if (job.runs.some((r) => r.command !== undefined)) {
    throw badRequest(`job ${job.id} was planned by the AI per OS: run the request again with ogent exec --ai`);
  }
  if (job.env && envViewOf(job, actor) !== 'values') {
    throw new AppError(
      'forbidden',
      `job ${job.id} sets env values only its creator (${job.createdBy}) and admins may reuse: run it again with ogent exec --env`,
    );
  }
  const statuses = new Set<string>(pick.all ? TERMINAL_RUN_STATUSES : (pick.statuses ?? RERUN_DEFAULT));
  const names = job.runs.filter((r) => statuses.has(r.status)).map((r) => r.agent.name);
  if (names.length === 0) {
    throw noMatch(`no run of job ${job.id} ended ${[...statuses].join(', ')}: nothing to run again`);
  }
  const args = job.args?.length ? job.args : undefined;
  return {
    rerunOf: job.id,
    executor: job.executor,
    // One selector naming each target (OR); names have no wildcards, so any number is fine. An ssh destination is
    // the one target of its job: --via names the agent again.
    target: job.sshTarget ? [] : [names.join(',')],
    timeoutMs: job.timeoutMs,
    ...(job.executor === 'shell' || job.executor === 'ssh' ? { command: job.command } : {}),
    ...(args ? { args } : {}),
    ...(job.script
      ? { script: job.script, scriptName: args ? job.command.slice(0, -quoteArgv(args).length - 1) : job.command }
      : {}),
    ...(job.env ? { env: job.env } : {}),
    ...(job.cwd ? { cwd: job.cwd } : {}),
    ...(job.sshTarget ? { sshTarget: job.sshTarget, via: job.via } : {}),
    ...(job.maxConcurrency !== undefined ? { maxConcurrency: job.maxConcurrency } : {}),
    ...(job.maxErrors !== undefined ? { maxErrors: job.maxErrors } : {}),
    ...(job.deliverWithinMs !== undefined ? { deliverWithinMs: job.deliverWithinMs } : {}),
    ...(job.canary !== undefined ? { canary: job.canary } : {}),
    ...(job.batchWaitMs !== undefined ? { batchWaitMs: job.batchWaitMs } : {}),
    // The same stdin, copied from the job's (jobs/rerun-stdin.ts).
    ...(job.stdin ? { stdin: true } : {}),
  };
}

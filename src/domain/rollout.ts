import type { JobSpec } from './job-spec.js';
import { resolveConcurrency, resolveMaxErrors, type Limit } from './limits.js';
import type { Job, JobAi, Run } from './model.js';
import { deriveJobStatus, isTerminal, summarize } from './run-state.js';
import { runnerOf, type Target } from './targets.js';

/**
 * A new job's document, and the rollout of its runs: which queued runs are sent now, which wait, which will never
 * run (docs/architecture.md §3.1). Pure: the caller says which agents are connected and what time it is.
 */

/** A run id is `JOBID_INDEX` (`jobIdOfRun` in ids.ts reads the job id back). */
export const runIdOf = (jobId: string, index: number) => `${jobId}_${index}`;

/** O(1): a run id carries its index in the job. */
export const runOf = (job: Job, runId: string): Run | undefined => {
  const run = job.runs[Number(runId.slice(runId.lastIndexOf('_') + 1))];
  return run?.id === runId ? run : undefined;
};

/** The fields of a job request that are not what it runs (that is the `JobSpec`). */
export interface JobSettings {
  target: string[];
  timeoutMs: number;
  env?: Record<string, string>;
  cwd?: string;
  maxConcurrency?: Limit;
  maxErrors?: Limit;
  deliverWithinMs?: number;
  /** `jobs rerun`: the job this one runs again. */
  rerunOf?: string;
}

export interface NewJob {
  id: string;
  /** ISO time of creation. */
  now: string;
  createdBy: string;
  spec: JobSpec;
  settings: JobSettings;
  /** One run per target, in this order. */
  targets: readonly Target[];
  /** From an AI plan: the command per target id, and the AI record. */
  planned?: { commands: Record<string, string>; ai: JobAi };
}

/** The job document as created: every run `queued` (the rollout decides the rest), the job `running`. */
export function newJob({ id, now, createdBy, spec, settings, targets, planned }: NewJob): Job {
  const commandOf = (target: Target) => planned?.commands[target.id] ?? spec.command;
  const command = targets[0] ? commandOf(targets[0]) : spec.command;
  const runs: Run[] = targets.map((target, i) => ({
    id: runIdOf(id, i),
    agent: { id: target.id, name: target.name },
    ...(target.via ? { via: target.via } : {}),
    ...(commandOf(target) !== command ? { command: commandOf(target) } : {}),
    status: 'queued',
    exitCode: null,
    signal: null,
    stdout: '',
    stderr: '',
    seq: 0,
    startedAt: null,
    finishedAt: null,
    durationMs: null,
  }));
  const maxConcurrency = resolveConcurrency(settings.maxConcurrency, runs.length);
  const maxErrors = resolveMaxErrors(settings.maxErrors, runs.length);
  return {
    id,
    command,
    executor: spec.executor,
    target: settings.target,
    timeoutMs: settings.timeoutMs,
    ...(settings.env ? { env: settings.env } : {}),
    ...(settings.cwd ? { cwd: settings.cwd } : {}),
    ...(spec.args ? { args: spec.args } : {}),
    ...(spec.script ? { script: spec.script } : {}),
    ...(spec.sshTarget ? { sshTarget: spec.sshTarget, via: spec.via } : {}),
    ...(planned ? { ai: planned.ai } : {}),
    ...(maxConcurrency !== undefined ? { maxConcurrency } : {}),
    ...(maxErrors !== undefined ? { maxErrors } : {}),
    ...(settings.deliverWithinMs !== undefined ? { deliverWithinMs: settings.deliverWithinMs } : {}),
    ...(settings.rerunOf ? { rerunOf: settings.rerunOf } : {}),
    status: 'running',
    createdBy,
    createdAt: now,
    finishedAt: null,
    runs,
    summary: summarize(runs),
  };
}

/** After runs changed: the job's summary and status; a job that ended gets its `finishedAt` once. */
export function refreshJob(job: Job, now = new Date()): void {
  job.summary = summarize(job.runs);
  job.status = deriveJobStatus(job);
  if (job.status !== 'running') job.finishedAt ??= now.toISOString();
}

export interface Rollout {
  /** Runs that became `dispatched`: to send to their agents. */
  toSend: Run[];
  /** Runs that became `unreachable` or `skipped`. */
  settled: Run[];
}

/**
 * Decides what happens to queued runs now: offline agents' runs become unreachable (unless the job waits for them,
 * `deliverWithinMs`), past `maxErrors` the rest are skipped, and up to `maxConcurrency` runs whose agents are
 * connected become `dispatched`. Changes only queued runs.
 */
export function planRollout(job: Job, isConnected: (agentId: string) => boolean, now = Date.now()): Rollout {
  const errors = job.runs.filter((r) => isTerminal(r.status) && r.status !== 'succeeded').length;
  const waitUntil = Date.parse(job.createdAt) + (job.deliverWithinMs ?? 0);
  let inFlight = job.runs.filter((r) => r.status === 'dispatched' || r.status === 'running').length;
  const rollout: Rollout = { toSend: [], settled: [] };
  const finish = (run: Run, status: 'unreachable' | 'skipped', error: string) => {
    run.status = status;
    run.finishedAt = new Date(now).toISOString();
    run.error = error;
    rollout.settled.push(run);
  };
  for (const run of job.runs) {
    if (run.status !== 'queued') continue;
    if (job.cancelRequested) {
      finish(run, 'skipped', 'the job was cancelled before this run started');
      continue;
    }
    if (job.maxErrors !== undefined && errors > job.maxErrors) {
      finish(run, 'skipped', `not started: more than ${job.maxErrors} runs did not succeed (--max-errors)`);
      continue;
    }
    if (!isConnected(runnerOf(run).id)) {
      if (now >= waitUntil) {
        finish(
          run,
          'unreachable',
          job.deliverWithinMs ? `agent offline for ${job.deliverWithinMs} ms` : 'agent offline',
        );
      }
      continue;
    }
    if (job.maxConcurrency !== undefined && inFlight >= job.maxConcurrency) continue;
    run.status = 'dispatched';
    run.dispatchedAt = new Date(now).toISOString();
    inFlight += 1;
    rollout.toSend.push(run);
  }
  return rollout;
}

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
  /** `--canary N`: the first N runs go first; the rest only if all of them succeeded. */
  canary?: number;
  /** `--batch-wait`: with `maxConcurrency`, runs start in batches, this long apart. */
  batchWaitMs?: number;
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
    // More canaries than runs: every run is one.
    ...(settings.canary !== undefined ? { canary: Math.min(settings.canary, runs.length) } : {}),
    ...(settings.batchWaitMs !== undefined && maxConcurrency !== undefined
      ? { batchWaitMs: settings.batchWaitMs }
      : {}),
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
  /** `--batch-wait`: plan again at this time (ms since the epoch), when the next batch may start. */
  wakeAt?: number;
}

/** Where the canaries stand (`--canary`): the runs after them wait, start, or are skipped. */
export function canaryState(job: Job): 'none' | 'pending' | 'passed' | 'failed' {
  if (!job.canary) return 'none';
  const canaries = job.runs.slice(0, job.canary);
  if (canaries.some((r) => isTerminal(r.status) && r.status !== 'succeeded')) return 'failed';
  return canaries.every((r) => r.status === 'succeeded') ? 'passed' : 'pending';
}

/**
 * `--batch-wait` (docs/architecture.md §3.1): may a batch start now? A batch is the runs started together, at most
 * `maxConcurrency`; the next starts once none is in flight and `batchWaitMs` has passed since the last one ended,
 * measured on the controller's clock as `nextBatchAt` in the document (set here the first time the batch is seen
 * over, so a restart or a takeover keeps the wait). Without `batchWaitMs`: always (a rolling window).
 */
export function batchOpen(job: Job, inFlight: number, now: number): { open: boolean; wakeAt?: number } {
  if (job.batchWaitMs === undefined) return { open: true };
  if (inFlight > 0) return { open: false };
  // No batch yet: the first starts at once.
  if (!job.runs.some((r) => r.dispatchedAt !== undefined)) return { open: true };
  job.nextBatchAt ??= new Date(now + job.batchWaitMs).toISOString();
  const at = Date.parse(job.nextBatchAt);
  return now >= at ? { open: true } : { open: false, wakeAt: at };
}

/**
 * Decides what happens to queued runs now: offline agents' runs become unreachable (unless the job waits for them,
 * `deliverWithinMs`), past `maxErrors` the rest are skipped, runs after the canaries wait for them (and are skipped
 * if one did not succeed), and up to `maxConcurrency` runs whose agents are connected become `dispatched`, in
 * batches `batchWaitMs` apart when it is set. Changes only queued runs (and `nextBatchAt`).
 */
export function planRollout(job: Job, isConnected: (agentId: string) => boolean, now = Date.now()): Rollout {
  const errors = job.runs.filter((r) => isTerminal(r.status) && r.status !== 'succeeded').length;
  const waitUntil = Date.parse(job.createdAt) + (job.deliverWithinMs ?? 0);
  let inFlight = job.runs.filter((r) => r.status === 'dispatched' || r.status === 'running').length;
  let canaries = canaryState(job);
  const rollout: Rollout = { toSend: [], settled: [] };
  const finish = (run: Run, status: 'unreachable' | 'skipped', error: string) => {
    run.status = status;
    run.finishedAt = new Date(now).toISOString();
    run.error = error;
    rollout.settled.push(run);
  };
  let batch: { open: boolean; wakeAt?: number } | undefined;
  let started = 0;
  for (const [i, run] of job.runs.entries()) {
    if (run.status !== 'queued') continue;
    const canary = i < (job.canary ?? 0);
    if (job.cancelRequested) {
      finish(run, 'skipped', 'the job was cancelled before this run started');
      continue;
    }
    if (!canary && canaries === 'failed') {
      finish(run, 'skipped', `not started: a canary run did not succeed (--canary ${job.canary})`);
      continue;
    }
    if (job.maxErrors !== undefined && errors > job.maxErrors) {
      finish(run, 'skipped', `not started: more than ${job.maxErrors} runs did not succeed (--max-errors)`);
      continue;
    }
    if (!canary && canaries === 'pending') continue;
    if (!isConnected(runnerOf(run).id)) {
      if (now >= waitUntil) {
        finish(
          run,
          'unreachable',
          job.deliverWithinMs ? `agent offline for ${job.deliverWithinMs} ms` : 'agent offline',
        );
        // Canaries come first: one that cannot run fails the canary stage for the runs after it in this pass.
        if (canary) canaries = canaryState(job);
      }
      continue;
    }
    if (job.maxConcurrency !== undefined && inFlight >= job.maxConcurrency) continue;
    batch ??= batchOpen(job, inFlight, now);
    if (!batch.open) {
      rollout.wakeAt = batch.wakeAt;
      continue;
    }
    run.status = 'dispatched';
    run.dispatchedAt = new Date(now).toISOString();
    inFlight += 1;
    started += 1;
    rollout.toSend.push(run);
  }
  // This batch started: the next one waits its turn again.
  if (started > 0 && job.batchWaitMs !== undefined) delete job.nextBatchAt;
  return rollout;
}

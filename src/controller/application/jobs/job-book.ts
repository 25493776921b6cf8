import { jobIdOfRun } from '../../../domain/ids.js';
import type { Job, Run } from '../../../domain/model.js';
import { refreshJob, runOf } from '../../../domain/rollout.js';
import { isTerminal } from '../../../domain/run-state.js';
import type { Logger } from '../../../lib/log.js';
import { noAudit, type AuditService } from '../audit-service.js';
import { noJobMetrics, type JobMetrics } from '../metrics.js';
import type { AgentGateway, ClientNotifier, JobCluster, JobRepository, OutputStore, StdinStore } from '../ports.js';

export interface JobServiceOptions {
  /** How long after a run's timeout the controller waits for its result before calling it lost. */
  resultGraceMs: number;
  /** How long an agent may stay away mid-run before its runs are lost. */
  lostAfterMs: number;
  /** Retention: keep at most this many finished jobs, none older than this many days. */
  retainJobs?: number;
  retainDays?: number;
}

/** What the job service works with: the ports it writes to and reads from. */
export interface JobServiceDeps {
  jobs: JobRepository;
  output: OutputStore;
  gateway: AgentGateway;
  notifier: ClientNotifier;
  log: Logger;
  metrics?: JobMetrics;
  audit?: AuditService;
  /** Scale-out (`--redis`): leases on jobs and a way to reach their owners; absent in the embedded mode. */
  cluster?: JobCluster;
  /** Jobs' piped stdin (stdin-service.ts), removed with them. */
  stdin?: StdinStore;
}

/**
 * While output streams, the job document (its runs' seq and byte counts, the first 64 KB of output) is written at
 * most this often: every chunk rewrote it (BENCHMARKS.md, stream). The output files have every byte at once; after a
 * crash they are cut back to the document and the agents re-send the rest (they keep up to 16 MB a run).
 */
const OUTPUT_PERSIST_MS = 100;

/**
 * What the parts of the job service share: the ports, the unfinished jobs (the live copies every event mutates) and
 * the writes of their documents outside a run's end.
 */
export class JobBook {
  /** Unfinished jobs, by id. */
  readonly active = new Map<string, Job>();
  /** Set by `stop()`: no new jobs, no new lost-run timers (shutdown). */
  stopped = false;
  /** Jobs whose document waits to be written after new output (`OUTPUT_PERSIST_MS`). */
  private readonly outputPersists = new Map<string, NodeJS.Timeout>();
  readonly jobs: JobRepository;
  readonly output: OutputStore;
  readonly gateway: AgentGateway;
  readonly notifier: ClientNotifier;
  readonly log: Logger;
  readonly metrics: JobMetrics;
  readonly audit: AuditService;
  readonly cluster: JobCluster | undefined;
  readonly stdin: StdinStore | undefined;

  constructor(
    readonly options: JobServiceOptions,
    deps: JobServiceDeps,
  ) {
    this.jobs = deps.jobs;
    this.output = deps.output;
    this.gateway = deps.gateway;
    this.notifier = deps.notifier;
    this.log = deps.log;
    this.metrics = deps.metrics ?? noJobMetrics;
    this.audit = deps.audit ?? noAudit;
    this.cluster = deps.cluster;
    this.stdin = deps.stdin;
  }

  findActiveRun(runId: string): { job: Job; run: Run } | undefined {
    const job = this.active.get(jobIdOfRun(runId));
    const run = job ? runOf(job, runId) : undefined;
    return job && run ? { job, run } : undefined;
  }

  /** Output the document never recorded (a crash, or an owner that is gone): cut back; the agents re-send it. */
  async cutBackOutput(job: Job): Promise<void> {
    for (const run of job.runs) {
      if (isTerminal(run.status)) continue;
      await this.output.truncate(job.id, run.id, 'stdout', run.stdoutBytes ?? 0);
      await this.output.truncate(job.id, run.id, 'stderr', run.stderrBytes ?? 0);
    }
  }

  refresh(job: Job): void {
    refreshJob(job);
  }

  /** A run changed outside its end (it started): clients are told, the document is written soon. */
  changed(job: Job, run: Run): void {
    this.refresh(job);
    this.notifier.runUpdate(job, run.id);
    this.persistSoon(job);
  }

  persistAfterOutput(job: Job): void {
    if (this.outputPersists.has(job.id)) return;
    const timer = setTimeout(() => {
      this.outputPersists.delete(job.id);
      this.persistSoon(job);
    }, OUTPUT_PERSIST_MS);
    timer.unref();
    this.outputPersists.set(job.id, timer);
  }

  persistSoon(job: Job): void {
    this.jobs
      .put(job)
      .catch((err: Error) => this.log.error('job not persisted', { jobId: job.id, error: err.message }));
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.outputPersists.values()) clearTimeout(t);
    this.outputPersists.clear();
  }
}

import type { Readable } from 'node:stream';
import { jobIdOfRun, newId } from '../../domain/ids.js';
import { jobSpecOf, JobSpecError, type JobSpec } from '../../domain/job-spec.js';
import type { Agent, Job, JobAi, JobStdin, RunStatus } from '../../domain/model.js';
import { rejectLacking, requiredBy } from '../../domain/capabilities.js';
import { newJob } from '../../domain/rollout.js';
import { isTerminal } from '../../domain/run-state.js';
import { parseSelector, select, SelectorError } from '../../domain/selector.js';
import { candidateTargets, runnerOf, TargetError, type Target } from '../../domain/targets.js';
import type { CommandProgress, CommandResult, JobRequest, ResultAck } from '../../protocol/events.js';
import { requireAdmin, requireRole } from './auth-service.js';
import { by } from './audit-service.js';
import { AppError, badRequest, noMatch, notFound, storeUnavailable } from './errors.js';
import type { Identity } from './ports.js';
import { Dispatcher } from './jobs/dispatch.js';
import { JobBook, type JobServiceDeps, type JobServiceOptions } from './jobs/job-book.js';
import { LostRuns } from './jobs/lost-runs.js';
import { JobOwnership } from './jobs/ownership.js';
import { pruneBefore, pruneJobs, type PruneBeforeOptions, type PruneOptions } from './jobs/retention.js';
import { copyStdin } from './jobs/rerun-stdin.js';
import { RunCompletion } from './jobs/run-completion.js';
import { RunOutput } from './jobs/run-output.js';

export { DOC_OUTPUT_CAP } from './jobs/run-output.js';
export type { JobServiceDeps, JobServiceOptions } from './jobs/job-book.js';

/**
 * Creates, dispatches, follows and cancels jobs; the only writer of job documents. A facade over its parts
 * (`jobs/`): run output, run completion, dispatch, lost runs, scale-out ownership, retention; the new job and its
 * rollout are pure (domain/rollout.ts).
 */
export class JobService {
  private readonly book: JobBook;
  private readonly output: RunOutput;
  private readonly completion: RunCompletion;
  private readonly dispatcher: Dispatcher;
  private readonly lost: LostRuns;
  /** Scale-out only. */
  private readonly ownership: JobOwnership | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  /** The removal in progress (a retention round or `jobs prune`): one at a time. */
  private pruning: Promise<unknown> | undefined;

  constructor(options: JobServiceOptions, deps: JobServiceDeps) {
    const book = (this.book = new JobBook(options, deps));
    this.output = new RunOutput(book);
    this.completion = new RunCompletion(book, this.output, (job) => this.dispatcher.pump(job));
    this.dispatcher = new Dispatcher(book, this.completion);
    this.lost = new LostRuns(book, this.completion, this.dispatcher);
    this.ownership = book.cluster && new JobOwnership(book, book.cluster, this.dispatcher, this.lost);
  }

  /** After a restart: pick up unfinished jobs; their agents have `lostAfterMs` to come back and report. */
  async start(agents: Agent[]): Promise<void> {
    if (this.ownership) return this.startClustered(this.ownership);
    for (const job of await this.book.jobs.listRunning()) {
      this.book.active.set(job.id, job);
      // Output files may hold bytes the job document never recorded (a crash between the two):
      // cut them back; the agents re-send those chunks, with seqs above the recorded one.
      await this.book.cutBackOutput(job);
    }
    for (const agent of agents) this.lost.agentDisconnected(agent.name);
    this.startSweeper();
    // In the background: a long history is removed in batches while the controller serves.
    this.pruneInBackground();
  }

  /** Scale-out: unfinished jobs are picked up by the lease of each (`JobOwnership`), not from the store at once. */
  private async startClustered(ownership: JobOwnership): Promise<void> {
    this.startSweeper(ownership);
    this.pruneInBackground();
  }

  /** Starts a retention round unless one runs. */
  private pruneInBackground(): void {
    if (this.pruning) return;
    this.prune().catch((err: Error) => this.book.log.error('retention failed', { error: err.message }));
  }

  private startSweeper(ownership?: JobOwnership): void {
    let ticks = 0;
    this.sweeper = setInterval(() => {
      const tick = ++ticks;
      this.lost.sweep();
      ownership?.tick(tick);
      if (tick % 60 === 0) this.pruneInBackground();
    }, 1000);
    this.sweeper.unref();
  }

  /**
   * Retention: removes finished jobs past `retainJobs` / `retainDays`, with their output, in batches. A call while a
   * round runs waits for that round and then runs its own.
   */
  prune(options: PruneOptions = {}): Promise<number> {
    return this.serialized(() => pruneJobs(this.book, options));
  }

  /** Runs `removal` once the removal in progress (retention or `jobs prune`) is over: one at a time. */
  private serialized<T>(removal: () => Promise<T>): Promise<T> {
    const after = this.pruning?.catch(() => 0) ?? Promise.resolve(0);
    const round = after.then(removal);
    this.pruning = round;
    void round
      .finally(() => {
        if (this.pruning === round) this.pruning = undefined;
      })
      .catch(() => {});
    return round;
  }

  /**
   * `jobs prune` (admin, audited): removes, or with `dryRun` counts, the finished jobs created before `before`.
   * Queued behind a retention round in progress, so the two never remove the same job at once.
   */
  async pruneBefore(actor: Identity, options: PruneBeforeOptions) {
    requireAdmin(actor);
    if (!options.dryRun) {
      await this.book.audit.required({
        ...by(actor),
        action: 'jobs_prune',
        ok: true,
        detail: `before ${options.before}`,
      });
    }
    return this.serialized(() => pruneBefore(this.book, options));
  }

  stop(): void {
    this.book.stop();
    clearInterval(this.sweeper);
    this.lost.stop();
    this.dispatcher.stop();
  }

  /** Waits for output and results being stored, then writes every unfinished job once more (shutdown). */
  async flush(): Promise<void> {
    // A retention round stops at its next batch (the service is stopped): the store is not closed under it.
    await Promise.allSettled([...this.output.pending(), ...this.completion.pending(), this.pruning]);
    const jobs = [...this.book.active.values()];
    const written = await Promise.allSettled(jobs.map((job) => this.book.jobs.put(job)));
    written.forEach((w, i) => {
      if (w.status === 'rejected') {
        this.book.log.error('job not persisted', { jobId: jobs[i]?.id, error: (w.reason as Error).message });
      }
    });
    await this.ownership?.releaseAll(jobs);
  }

  /** Unfinished jobs, and their runs by status (monitoring). */
  activeCounts(): { jobs: number; runs: Partial<Record<RunStatus, number>> } {
    const runs: Partial<Record<RunStatus, number>> = {};
    for (const job of this.book.active.values()) {
      for (const run of job.runs) runs[run.status] = (runs[run.status] ?? 0) + 1;
    }
    return { jobs: this.book.active.size, runs };
  }

  /** Once a second: runs past their timeout and grace are lost; queued runs past `deliverWithinMs` are unreachable. */
  sweep(now = Date.now()): void {
    this.lost.sweep(now);
  }

  async create(
    request: JobRequest,
    actor: Identity,
    agents: Agent[],
    onCreated: (job: Job) => void = () => {},
    /** From an AI plan: the command per target id (only those targets run), and the AI record. */
    planned?: { commands: Record<string, string>; ai: JobAi },
  ): Promise<Job> {
    requireRole(actor, 'operator', 'run jobs');
    const { book } = this;
    if (book.stopped) {
      throw new AppError('shutting_down', 'the controller is shutting down: try again in a moment');
    }
    const down = book.cluster?.unavailable();
    if (down) throw storeUnavailable(down);
    const { spec, targets: selected } = this.resolve(request, agents);
    const targets = planned ? selected.filter((t) => planned.commands[t.id] !== undefined) : selected;
    if (!targets[0]) throw noMatch('none of the targets of the plan is known any more');
    const id = newId('j');
    const now = new Date().toISOString();
    // Every run starts queued; the rollout dispatches within the window, or finds its agent offline.
    const job = newJob({ id, now, createdBy: actor.name, spec, settings: request, targets, planned });
    // What the job needs beyond the first release: runs on agents that cannot do it are rejected, never sent.
    if (request.stdin) {
      job.stdin = request.rerunOf ? await copyStdin(book.stdin, request.rerunOf, id) : { bytes: 0, ended: false };
    }
    const requires = requiredBy(job);
    if (requires.length) {
      job.requires = requires;
      rejectLacking(job.runs, requires, agents, now);
    }
    const { command, runs } = job;
    // Audited before anything is stored or sent: a job the audit log cannot record does not run (503).
    await book.audit.required({
      ...by(actor),
      action: 'job_create',
      ok: true,
      jobId: id,
      agents: runs.map((r) => r.agent.name),
      detail: `${spec.executor}: ${command}`.slice(0, 4096),
    });
    const toSend = this.dispatcher.plan(job);
    book.refresh(job);
    if (book.cluster) {
      // Owned by this controller before any other can see it running (and take it over).
      try {
        await book.cluster.claim(id);
        await book.jobs.put(job);
      } catch (err) {
        book.cluster.release(id).catch(() => {});
        throw storeUnavailable((err as Error).message);
      }
    } else await book.jobs.put(job);
    book.log.info('job created', { jobId: id, by: actor.name, runs: runs.length, command });
    book.metrics.jobCreated(job);
    onCreated(job);
    if (job.status !== 'running') {
      book.metrics.jobFinished(job);
      book.notifier.jobFinished(job);
      book.cluster?.release(id).catch(() => {});
      return job;
    }
    book.active.set(id, job);
    this.dispatcher.dispatchAll(job, toSend);
    return job;
  }

  /** What `request` would run, and on which targets (by name); throws the 400 or 422 AppError. */
  resolve(request: JobRequest, agents: Agent[]): { spec: JobSpec; targets: Target[] } {
    try {
      const spec = jobSpecOf(request);
      const selector = parseSelector(request.target);
      const targets = select(selector, candidateTargets(spec, agents)).sort((a, b) => a.name.localeCompare(b.name));
      if (targets.length === 0) {
        const what = request.target.length ? request.target.map((t) => `-t '${t}'`).join(' ') : '--all';
        const kind = spec.executor === 'ssh' && !spec.sshTarget ? 'ssh host (agent run --ssh-host)' : 'agent';
        throw noMatch(`no ${kind} matched ${what}`);
      }
      return { spec, targets };
    } catch (err) {
      if (err instanceof SelectorError || err instanceof JobSpecError) throw badRequest(err.message);
      if (err instanceof TargetError) throw err.kind === 'no_match' ? noMatch(err.message) : badRequest(err.message);
      throw err;
    }
  }

  async get(id: string): Promise<Job> {
    const job = this.book.active.get(id) ?? (await this.book.jobs.get(id));
    if (!job) throw notFound(`no job "${id}"`);
    return job;
  }

  list(limit: number, before?: string): Promise<Job[]> {
    return this.book.jobs.list({ limit, before });
  }

  /** A run's stored output from byte `offset` on (a client catching up reads only what it has not printed). */
  async readOutput(jobId: string, runId: string, stream: 'stdout' | 'stderr', offset = 0): Promise<Readable> {
    const job = await this.get(jobId);
    if (!job.runs.some((r) => r.id === runId)) throw notFound(`no run "${runId}" in job "${jobId}"`);
    return this.book.output.openRead(jobId, runId, stream, offset);
  }

  /**
   * A chunk of output from an agent connected here; repeats (seq already seen) are dropped. Stored before it counts in
   * the document. Returns when the chunk is stored (or dropped), or undefined when it was refused at once.
   */
  progress(agentName: string, p: CommandProgress): Promise<void> | undefined {
    if (this.ownership && !this.book.findActiveRun(p.runId)) {
      return this.ownership.forwardProgress(agentName, p, (a, chunk) => this.output.progress(a, chunk));
    }
    return this.output.progress(agentName, p);
  }

  /** Scale-out: output another controller forwarded here, as the job's owner. */
  progressForwarded(agentName: string, p: CommandProgress): Promise<void> | undefined {
    return this.output.progress(agentName, p);
  }

  /** A run's result from an agent connected here; applied once (the first wins), acknowledged after it is persisted. */
  async result(agentName: string, r: CommandResult): Promise<ResultAck> {
    if (this.ownership && !this.book.active.has(jobIdOfRun(r.runId))) {
      const answer = await this.ownership.forwardResult(agentName, r);
      if (answer) return answer;
    }
    return this.completion.result(agentName, r);
  }

  /** Scale-out: a result another controller forwarded here, as the job's owner. */
  async resultForwarded(agentName: string, r: CommandResult): Promise<ResultAck> {
    const jobId = jobIdOfRun(r.runId);
    if (this.book.cluster && !this.book.active.has(jobId)) {
      // Sent here as the owner, but this controller no longer runs it: the agent retries, and finds the owner.
      const stored = await this.book.jobs.get(jobId);
      if (stored?.status === 'running') return { ok: false, error: 'not_persisted' };
    }
    return this.completion.result(agentName, r);
  }

  async cancel(id: string, actor: Identity): Promise<Job> {
    requireRole(actor, 'operator', 'cancel jobs');
    if (this.ownership && !this.book.active.has(id)) {
      const answer = await this.ownership.forwardCancel(id, actor);
      if (answer) return answer;
    }
    return this.cancelHere(id, actor);
  }

  /** Scale-out: a cancel another controller forwarded here, as the job's owner. */
  async cancelForwarded(id: string, actor: Identity): Promise<Job> {
    requireRole(actor, 'operator', 'cancel jobs');
    return this.cancelHere(id, actor);
  }

  private async cancelHere(id: string, actor: Identity): Promise<Job> {
    const job = await this.get(id);
    if (this.book.cluster && job.status === 'running' && !this.book.active.has(id)) {
      throw new AppError('owner_unreachable', `the controller running job ${id} is unreachable: try again`);
    }
    if (job.status !== 'running') return job;
    await this.book.audit.record({
      ...by(actor),
      action: 'job_cancel',
      ok: true,
      jobId: id,
      agents: job.runs.filter((r) => !isTerminal(r.status)).map((r) => r.agent.name),
    });
    job.cancelRequested = true;
    this.book.log.info('job cancel requested', { jobId: id, by: actor.name });
    const pending: Promise<void>[] = [];
    for (const run of job.runs) {
      if (isTerminal(run.status)) continue;
      if (run.status === 'queued' || !this.book.gateway.isConnected(runnerOf(run).id)) {
        const error = 'cancelled before the agent could be reached';
        pending.push(this.completion.finishRun(job, run, 'cancelled', { error }));
      } else {
        this.book.gateway
          .cancel(runnerOf(run).id, run.id)
          .catch((err: Error) =>
            this.book.log.warn('cancel not acknowledged', { jobId: job.id, runId: run.id, error: err.message }),
          );
      }
    }
    await Promise.all(pending);
    await this.book.jobs.put(job);
    return job;
  }

  /** An agent went away: if it is not back within `lostAfterMs`, its unfinished runs are lost. */
  /** The job's stored stdin changed (stdin-service.ts): its document says so with the next output write. */
  stdinChanged(jobId: string, stdin: JobStdin): void {
    const job = this.book.active.get(jobId);
    if (!job?.stdin) return;
    job.stdin = stdin;
    this.book.persistAfterOutput(job);
  }

  agentDisconnected(agentName: string): void {
    this.lost.agentDisconnected(agentName);
  }

  /** An agent (re)connected: runs still `dispatched` to it are sent again (it de-duplicates by runId). */
  agentConnected(agentName: string): void {
    this.lost.agentConnected(agentName);
  }
}

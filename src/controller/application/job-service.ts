import type { Readable } from 'node:stream';
import { rejectLacking, requiredBy } from '../../domain/capabilities.js';
import { jobIdOfRun, newId } from '../../domain/ids.js';
import { jobSpecOf, JobSpecError, type JobSpec } from '../../domain/job-spec.js';
import type { Agent, Job, JobAi, Run, RunStatus } from '../../domain/model.js';
import { canTransition, deriveJobStatus, isTerminal, summarize } from '../../domain/run-state.js';
import { resolveConcurrency, resolveMaxErrors } from '../../domain/limits.js';
import { parseSelector, select, SelectorError } from '../../domain/selector.js';
import { candidateTargets, runnerOf, TargetError, type Target } from '../../domain/targets.js';
import {
  progressBytes,
  type CommandProgress,
  type CommandResult,
  type JobRequest,
  type ResultAck,
} from '../../protocol/events.js';
import type { Logger } from '../../lib/log.js';
import { noJobMetrics, type JobMetrics } from './metrics.js';
import { requireRole } from './auth-service.js';
import { by, noAudit, type AuditService } from './audit-service.js';
import { AppError, badRequest, noMatch, notFound, storeUnavailable } from './errors.js';
import type {
  AgentGateway,
  ClientNotifier,
  Identity,
  JobCluster,
  JobRepository,
  OutputStore,
  RemoteJobs,
} from './ports.js';

/** Output kept inside the job document per run and stream; the rest is in the output store. */
export const DOC_OUTPUT_CAP = 64 * 1024;

export interface JobServiceOptions {
  /** How long after a run's timeout the controller waits for its result before calling it lost. */
  resultGraceMs: number;
  /** How long an agent may stay away mid-run before its runs are lost. */
  lostAfterMs: number;
  /** Retention: keep at most this many finished jobs, none older than this many days. */
  retainJobs?: number;
  retainDays?: number;
}

/** Runs sent to agents per event-loop turn when a job starts. */
const DISPATCH_SLICE = 100;
/**
 * While output streams, the job document (its runs' seq and byte counts, the first 64 KB of output) is written at
 * most this often: every chunk rewrote it (BENCHMARKS.md, stream). The output files have every byte at once; after a
 * crash they are cut back to the document and the agents re-send the rest (they keep up to 16 MB a run).
 */
const OUTPUT_PERSIST_MS = 100;

export const runIdOf = (jobId: string, index: number) => `${jobId}_${index}`;
export { jobIdOfRun };
/** O(1): a run id carries its index in the job. */
const runOf = (job: Job, runId: string): Run | undefined => {
  const run = job.runs[Number(runId.slice(runId.lastIndexOf('_') + 1))];
  return run?.id === runId ? run : undefined;
};

/** Creates, dispatches, follows and cancels jobs; the only writer of job documents. */
export class JobService {
  /** Unfinished jobs, by id: the live copies every event mutates. */
  private readonly active = new Map<string, Job>();
  private sweeper: NodeJS.Timeout | undefined;
  /** Set by `stop()`: no new jobs, no new lost-run timers (shutdown). */
  private stopped = false;
  private readonly lostTimers = new Map<string, NodeJS.Timeout>();
  /** Highest seq received per run (stored ones are `run.seq`); repeats at or below it are dropped. */
  private readonly received = new Map<string, number>();
  /** Per run, output is stored in seq order: each chunk waits for the one before. */
  private readonly outputChains = new Map<string, Promise<void>>();
  /** Runs with output that could not be stored, waiting for the agent to send it again. */
  private readonly brokenOutput = new Set<string>();
  /** Runs whose terminal status is being stored. */
  private readonly finishing = new Map<string, Promise<void>>();
  /** Jobs whose document waits to be written after new output (`OUTPUT_PERSIST_MS`). */
  private readonly outputPersists = new Map<string, NodeJS.Timeout>();
  /** Scale-out: jobs being taken over from a controller that is gone. */
  private readonly adopting = new Map<string, Promise<boolean>>();
  /** Scale-out: per run, output forwarded to the job's owner, in order. */
  private readonly forwarding = new Map<string, Promise<void>>();

  constructor(
    private readonly jobs: JobRepository,
    private readonly output: OutputStore,
    private readonly gateway: AgentGateway,
    private readonly notifier: ClientNotifier,
    private readonly log: Logger,
    private readonly options: JobServiceOptions,
    private readonly metrics: JobMetrics = noJobMetrics,
    private readonly audit: AuditService = noAudit,
    /** Scale-out (`--redis`): leases on jobs and a way to reach their owners; absent in the embedded mode. */
    private readonly cluster?: JobCluster,
  ) {}

  /** After a restart: pick up unfinished jobs; their agents have `lostAfterMs` to come back and report. */
  async start(agents: Agent[]): Promise<void> {
    if (this.cluster) return this.startClustered();
    for (const job of await this.jobs.listRunning()) {
      this.active.set(job.id, job);
      // Output files may hold bytes the job document never recorded (a crash between the two):
      // cut them back; the agents re-send those chunks, with seqs above the recorded one.
      for (const run of job.runs) {
        if (isTerminal(run.status)) continue;
        await this.output.truncate(job.id, run.id, 'stdout', run.stdoutBytes ?? 0);
        await this.output.truncate(job.id, run.id, 'stderr', run.stderrBytes ?? 0);
      }
    }
    for (const agent of agents) this.agentDisconnected(agent.name);
    await this.prune();
    let ticks = 0;
    this.sweeper = setInterval(() => {
      this.sweep();
      if (++ticks % 60 === 0) {
        this.prune().catch((err: Error) => this.log.error('retention failed', { error: err.message }));
      }
    }, 1000);
    this.sweeper.unref();
  }

  /**
   * Scale-out: unfinished jobs belong to the controllers that created them; this one renews its leases every second
   * and takes over the jobs whose owner is gone (their lease expired), as a restarted controller picks its jobs up.
   */
  private async startClustered(): Promise<void> {
    const cluster = this.cluster as JobCluster;
    let ticks = 0;
    this.sweeper = setInterval(() => {
      this.sweep();
      cluster.renew([...this.active.keys()]).then(
        (lost) => {
          for (const id of lost) {
            // Another controller holds it now (this one could not renew in time): it is theirs.
            this.log.warn('job lease lost to another controller', { jobId: id });
            this.active.delete(id);
          }
        },
        () => {},
      );
      if (++ticks % 2 === 0) {
        cluster.orphans().then(
          (ids) => ids.forEach((id) => void this.adopt(id).catch(() => {})),
          () => {},
        );
      }
      if (ticks % 60 === 0) {
        this.prune().catch((err: Error) => this.log.error('retention failed', { error: err.message }));
      }
    }, 1000);
    this.sweeper.unref();
    await this.prune().catch((err: Error) => this.log.error('retention failed', { error: err.message }));
  }

  /** Takes over a job whose owner is gone (once, however many events ask for it); false when it is not to be had. */
  private adopt(jobId: string): Promise<boolean> {
    let adopting = this.adopting.get(jobId);
    if (!adopting) {
      adopting = this.takeOver(jobId).finally(() => this.adopting.delete(jobId));
      this.adopting.set(jobId, adopting);
    }
    return adopting;
  }

  private async takeOver(jobId: string): Promise<boolean> {
    const cluster = this.cluster;
    if (!cluster || this.stopped || this.active.has(jobId)) return false;
    if (!(await cluster.claim(jobId))) return false;
    const job = await this.jobs.get(jobId);
    if (!job || job.status !== 'running') {
      await cluster.release(jobId);
      return false;
    }
    for (const run of job.runs) {
      if (isTerminal(run.status)) continue;
      // Output the owner stored but never recorded in the document: the agent sends it again.
      await this.output.truncate(job.id, run.id, 'stdout', run.stdoutBytes ?? 0);
      await this.output.truncate(job.id, run.id, 'stderr', run.stderrBytes ?? 0);
    }
    this.active.set(job.id, job);
    this.log.info('job taken over from a controller that is gone', { jobId });
    const names = new Set<string>();
    for (const run of job.runs) {
      if (isTerminal(run.status)) continue;
      const runner = runnerOf(run);
      names.add(runner.name);
      // It may never have arrived: sent again, the agent de-duplicates by runId (docs/protocol.md §7).
      if (run.status === 'dispatched' && this.gateway.isConnected(runner.id)) this.dispatch(job, run);
    }
    for (const name of names) {
      const run = job.runs.find((r) => runnerOf(r).name === name) as Run;
      if (!this.gateway.isConnected(runnerOf(run).id)) this.agentDisconnected(name);
    }
    this.pump(job);
    return true;
  }

  /**
   * Scale-out: where an event about a job that is not active here goes. Undefined: handle it here (this controller
   * owns it, took it over just now, or it is finished); else its owner.
   */
  private async route(jobId: string): Promise<RemoteJobs | undefined> {
    const cluster = this.cluster;
    if (!cluster) return undefined;
    for (let attempt = 0; ; attempt++) {
      await this.adopting.get(jobId);
      if (this.active.has(jobId)) return undefined;
      const owner = await cluster.ownerOf(jobId);
      if (owner === 'self') return undefined;
      if (owner) return owner;
      if (await this.adopt(jobId)) return undefined;
      // Not taken: finished (handled from the store), or another controller took it a moment ago.
      const job = await this.jobs.get(jobId);
      if (!job || job.status !== 'running' || attempt >= 3) return undefined;
    }
  }

  /** Retention: removes finished jobs past `retainJobs` / `retainDays`, with their output. */
  async prune(now = Date.now()): Promise<number> {
    const { retainJobs, retainDays } = this.options;
    if (retainJobs === undefined && retainDays === undefined) return 0;
    // Once for the whole cluster: the controller that holds the retention lease for this round.
    if (this.cluster && !(await this.cluster.lead('retention', 50_000))) return 0;
    const olderThan = retainDays === undefined ? undefined : new Date(now - retainDays * 86_400_000).toISOString();
    const expired = await this.jobs.listExpired({ keep: retainJobs, olderThan });
    for (const id of expired) {
      await this.jobs.remove(id);
      await this.output.removeJob(id);
    }
    if (expired.length) this.log.info('old jobs removed', { count: expired.length });
    return expired.length;
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.sweeper);
    for (const t of this.outputPersists.values()) clearTimeout(t);
    this.outputPersists.clear();
    for (const t of this.lostTimers.values()) clearTimeout(t);
    this.lostTimers.clear();
  }

  /** Waits for output and results being stored, then writes every unfinished job once more (shutdown). */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.outputChains.values(), ...this.finishing.values()]);
    const jobs = [...this.active.values()];
    const written = await Promise.allSettled(jobs.map((job) => this.jobs.put(job)));
    written.forEach((w, i) => {
      if (w.status === 'rejected') {
        this.log.error('job not persisted', { jobId: jobs[i]?.id, error: (w.reason as Error).message });
      }
    });
    // Scale-out: another controller takes these over at once instead of after the lease expires.
    if (this.cluster) await Promise.allSettled(jobs.map((job) => this.cluster?.release(job.id)));
  }

  /** Unfinished jobs, and their runs by status (monitoring). */
  activeCounts(): { jobs: number; runs: Partial<Record<RunStatus, number>> } {
    const runs: Partial<Record<RunStatus, number>> = {};
    for (const job of this.active.values()) for (const run of job.runs) runs[run.status] = (runs[run.status] ?? 0) + 1;
    return { jobs: this.active.size, runs };
  }

  /** Once a second: runs past their timeout and grace are lost; queued runs past `deliverWithinMs` are unreachable. */
  sweep(now = Date.now()): void {
    for (const job of [...this.active.values()]) {
      for (const run of job.runs) {
        if (run.status !== 'dispatched' && run.status !== 'running') continue;
        const since = Date.parse(run.dispatchedAt ?? run.startedAt ?? job.createdAt);
        if (now > since + job.timeoutMs + this.options.resultGraceMs) {
          this.finishRun(job, run, 'lost', { error: 'no result within the timeout and its grace period' }).catch(
            (err: Error) =>
              this.log.error('lost run not persisted', { jobId: job.id, runId: run.id, error: err.message }),
          );
        }
      }
      if (job.deliverWithinMs !== undefined && now >= Date.parse(job.createdAt) + job.deliverWithinMs) this.pump(job);
    }
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
    if (this.stopped) {
      throw new AppError(503, 'shutting_down', 'the controller is shutting down: try again in a moment');
    }
    const down = this.cluster?.unavailable();
    if (down) throw storeUnavailable(down);
    const { spec, targets: selected } = this.resolve(request, agents);
    const targets = planned ? selected.filter((t) => planned.commands[t.id] !== undefined) : selected;
    if (!targets[0]) throw noMatch('none of the targets of the plan is known any more');
    const commandOf = (target: Target) => planned?.commands[target.id] ?? spec.command;
    const command = commandOf(targets[0]);
    const now = new Date().toISOString();
    const id = newId('j');
    // Every run starts queued; `pump` dispatches within the window, or finds its agent offline.
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
    const requires = requiredBy(spec);
    if (requires.length) rejectLacking(runs, requires, agents, now);
    const maxConcurrency = resolveConcurrency(request.maxConcurrency, runs.length);
    const maxErrors = resolveMaxErrors(request.maxErrors, runs.length);
    const job: Job = {
      id,
      command,
      executor: spec.executor,
      target: request.target,
      timeoutMs: request.timeoutMs,
      ...(request.env ? { env: request.env } : {}),
      ...(request.cwd ? { cwd: request.cwd } : {}),
      ...(spec.args ? { args: spec.args } : {}),
      ...(spec.script ? { script: spec.script } : {}),
      ...(spec.sshTarget ? { sshTarget: spec.sshTarget, via: spec.via } : {}),
      ...(planned ? { ai: planned.ai } : {}),
      ...(maxConcurrency !== undefined ? { maxConcurrency } : {}),
      ...(maxErrors !== undefined ? { maxErrors } : {}),
      ...(request.deliverWithinMs !== undefined ? { deliverWithinMs: request.deliverWithinMs } : {}),
      ...(requires.length ? { requires } : {}),
      ...(request.rerunOf ? { rerunOf: request.rerunOf } : {}),
      status: 'running',
      createdBy: actor.name,
      createdAt: now,
      finishedAt: null,
      runs,
      summary: summarize(runs),
    };
    // Audited before anything is stored or sent: a job the audit log cannot record does not run (503).
    await this.audit.required({
      ...by(actor),
      action: 'job_create',
      ok: true,
      jobId: id,
      agents: runs.map((r) => r.agent.name),
      detail: `${spec.executor}: ${command}`.slice(0, 4096),
    });
    const toSend = this.plan(job);
    this.refresh(job);
    if (this.cluster) {
      // Owned by this controller before any other can see it running (and take it over).
      try {
        await this.cluster.claim(id);
        await this.jobs.put(job);
      } catch (err) {
        this.cluster.release(id).catch(() => {});
        throw storeUnavailable((err as Error).message);
      }
    } else await this.jobs.put(job);
    this.log.info('job created', { jobId: id, by: actor.name, runs: runs.length, command });
    this.metrics.jobCreated(job);
    onCreated(job);
    if (job.status !== 'running') {
      this.metrics.jobFinished(job);
      this.notifier.jobFinished(job);
      this.cluster?.release(id).catch(() => {});
      return job;
    }
    this.active.set(id, job);
    this.dispatchAll(job, toSend);
    return job;
  }

  /**
   * Sends runs a slice at a time, yielding to the event loop between slices: 1,000 sends in one go held it for
   * 100-200 ms (BENCHMARKS.md, store). A cancel that comes in between stops the rest from being sent at all.
   */
  private dispatchAll(job: Job, runs: Run[], from = 0): void {
    if (this.stopped) return;
    for (const run of runs.slice(from, from + DISPATCH_SLICE)) {
      // Settled meanwhile (its agent went away, say): nothing to send.
      if (run.status !== 'dispatched') continue;
      if (job.cancelRequested) {
        this.finishRun(job, run, 'cancelled', { error: 'cancelled before the agent could be reached' }).catch(
          (err: Error) => this.log.error('run not persisted', { jobId: job.id, runId: run.id, error: err.message }),
        );
      } else this.dispatch(job, run);
    }
    if (from + DISPATCH_SLICE < runs.length) setImmediate(() => this.dispatchAll(job, runs, from + DISPATCH_SLICE));
  }

  /**
   * Decides, without I/O, what happens to queued runs now: offline agents' runs become unreachable (unless the job
   * waits for them, `deliverWithinMs`), past `maxErrors` the rest are skipped, and up to `maxConcurrency` runs whose
   * agents are connected become `dispatched`. Returns the runs to send.
   */
  private plan(job: Job, now = Date.now()): Run[] {
    const errors = job.runs.filter((r) => isTerminal(r.status) && r.status !== 'succeeded').length;
    const waitUntil = Date.parse(job.createdAt) + (job.deliverWithinMs ?? 0);
    let inFlight = job.runs.filter((r) => r.status === 'dispatched' || r.status === 'running').length;
    const toSend: Run[] = [];
    const finish = (run: Run, status: 'unreachable' | 'skipped', error: string) => {
      run.status = status;
      run.finishedAt = new Date(now).toISOString();
      run.error = error;
      this.metrics.runFinished(run);
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
      if (!this.gateway.isConnected(runnerOf(run).id)) {
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
      toSend.push(run);
    }
    return toSend;
  }

  /** Applies `plan` to a running job: stores what changed, then sends what it dispatched. */
  private pump(job: Job): void {
    // Only queued runs can change here; most jobs have none left (this runs after every result).
    if (!job.runs.some((r) => r.status === 'queued')) return;
    const before = job.runs.map((r) => r.status);
    const toSend = this.plan(job);
    const changed = job.runs.filter((r, i) => r.status !== before[i]);
    if (changed.length === 0) return;
    this.refresh(job);
    // As in finishRun: the job ends after the write that holds its end.
    const endsJob = job.status !== 'running';
    const stored = this.jobs.put(job);
    for (const run of changed) this.notifier.runUpdate(job, run.id);
    // Persisted before dispatch (docs/protocol.md §7).
    stored.then(
      () => {
        for (const run of toSend) this.dispatch(job, run);
        if (endsJob) this.jobEnded(job);
      },
      (err: Error) => {
        this.log.error('job not persisted; runs stay queued', { jobId: job.id, error: err.message });
        for (const run of toSend) {
          run.status = 'queued';
          delete run.dispatchedAt;
        }
      },
    );
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

  private dispatch(job: Job, run: Run): void {
    this.gateway
      .execute(runnerOf(run).id, {
        runId: run.id,
        jobId: job.id,
        command: run.command ?? job.command,
        executor: job.executor,
        timeoutMs: job.timeoutMs,
        ...(job.env ? { env: job.env } : {}),
        ...(job.cwd ? { cwd: job.cwd } : {}),
        ...(job.args ? { args: job.args } : {}),
        ...(job.script ? { script: job.script } : {}),
        ...(run.via ? (job.sshTarget ? { sshTarget: job.sshTarget } : { sshHost: run.agent.name }) : {}),
        ...(job.requires?.length ? { requires: job.requires } : {}),
      })
      .then(
        (ack) => {
          if (isTerminal(run.status)) return;
          if (!ack.accepted) return this.finishRun(job, run, 'rejected', { error: ack.reason ?? 'refused by agent' });
          if (run.status === 'dispatched') {
            run.status = 'running';
            run.startedAt ??= new Date().toISOString();
            this.metrics.runStarted(run);
            this.changed(job, run);
          }
        },
        (err: Error) =>
          this.log.warn('dispatch not acknowledged', { jobId: job.id, runId: run.id, error: err.message }),
      )
      .catch((err: Error) => this.log.error('run not persisted', { jobId: job.id, runId: run.id, error: err.message }));
  }

  async get(id: string): Promise<Job> {
    const job = this.active.get(id) ?? (await this.jobs.get(id));
    if (!job) throw notFound(`no job "${id}"`);
    return job;
  }

  list(limit: number, before?: string): Promise<Job[]> {
    return this.jobs.list({ limit, before });
  }

  /** A run's stored output from byte `offset` on (a client catching up reads only what it has not printed). */
  async readOutput(jobId: string, runId: string, stream: 'stdout' | 'stderr', offset = 0): Promise<Readable> {
    const job = await this.get(jobId);
    if (!job.runs.some((r) => r.id === runId)) throw notFound(`no run "${runId}" in job "${jobId}"`);
    return this.output.openRead(jobId, runId, stream, offset);
  }

  /** A chunk of output from an agent; repeats (seq already seen) are dropped. Stored before it counts in the document. */
  /** Returns when the chunk is stored (or dropped), or undefined when it was refused at once. */
  progress(agentName: string, p: CommandProgress, forwarded = false): Promise<void> | undefined {
    const found = this.findActiveRun(p.runId);
    if (!found && this.cluster && !forwarded) return this.forwardProgress(agentName, p);
    if (!found || runnerOf(found.run).name !== agentName || isTerminal(found.run.status)) return undefined;
    const { job, run } = found;
    if (p.seq <= (this.received.get(run.id) ?? run.seq)) return undefined;
    // While storage is failing, only the stored seq counts, so the agent's re-sends fill the gap.
    if (!this.brokenOutput.has(run.id)) this.received.set(run.id, p.seq);
    if (run.status === 'dispatched') {
      // Output before the ack of execute_command (both in one read of the socket): the ack then finds the run
      // running and says nothing, so clients are told here.
      run.status = 'running';
      run.startedAt ??= new Date().toISOString();
      this.metrics.runStarted(run);
      this.changed(job, run);
    }
    this.notifier.progress(job.id, run.agent.name, p);
    const previous = this.outputChains.get(run.id) ?? Promise.resolve();
    const next = previous.then(async () => {
      if (p.seq <= run.seq) return;
      if (this.brokenOutput.has(run.id) && p.seq !== run.seq + 1) return;
      const bytes = p.stream === 'stdout' ? 'stdoutBytes' : 'stderrBytes';
      try {
        await this.output.append(job.id, run.id, p.stream, p.data);
      } catch (err) {
        this.brokenOutput.add(run.id);
        this.received.set(run.id, run.seq);
        // A write that failed part-way (the disk filled up in the middle of the chunk) leaves part of it in the
        // file: cut it back to what is counted, so the agent's re-send is stored once. Shrinking needs no space.
        await this.output.truncate(job.id, run.id, p.stream, run[bytes] ?? 0).catch(() => {});
        this.log.error('output not stored; waiting for the agent to send it again', {
          jobId: job.id,
          runId: run.id,
          error: (err as Error).message,
        });
        return;
      }
      this.brokenOutput.delete(run.id);
      run.seq = p.seq;
      const field = p.stream;
      run[bytes] = (run[bytes] ?? 0) + progressBytes(p.data);
      const truncated = field === 'stdout' ? 'stdoutTruncated' : 'stderrTruncated';
      // Past the cap nothing is decoded: the document says it is truncated, the bytes are in the output file.
      if (!run[truncated] && p.data.length) {
        // A chunk holds whole characters (the agent cuts between them); bytes that are not UTF-8 show as U+FFFD.
        const text = typeof p.data === 'string' ? p.data : p.data.toString('utf8');
        const room = DOC_OUTPUT_CAP - run[field].length;
        if (room >= text.length) run[field] += text;
        else {
          run[field] += text.slice(0, Math.max(0, room));
          run[truncated] = true;
        }
      }
      this.persistAfterOutput(job);
    });
    this.outputChains.set(run.id, next);
    void next.then(() => {
      if (this.outputChains.get(run.id) === next) this.outputChains.delete(run.id);
    });
    return next;
  }

  /** Scale-out: output for a job owned elsewhere goes to its owner, in order per run. */
  private forwardProgress(agentName: string, p: CommandProgress): Promise<void> {
    const previous = this.forwarding.get(p.runId) ?? Promise.resolve();
    const next = previous
      .then(async () => {
        const owner = await this.route(jobIdOfRun(p.runId));
        if (owner) await owner.progress(agentName, p);
        else await this.progress(agentName, p, true);
      })
      .catch((err: Error) =>
        this.log.warn('output not forwarded to the job owner', { runId: p.runId, error: err.message }),
      );
    this.forwarding.set(p.runId, next);
    void next.then(() => {
      if (this.forwarding.get(p.runId) === next) this.forwarding.delete(p.runId);
    });
    return next;
  }

  /** A run's result; applied once (the first wins), acknowledged after it is persisted. */
  async result(agentName: string, r: CommandResult, forwarded = false): Promise<ResultAck> {
    const jobId = jobIdOfRun(r.runId);
    if (this.cluster && !this.active.has(jobId)) {
      if (forwarded) {
        // Sent here as the owner, but this controller no longer runs it: the agent retries, and finds the owner.
        const stored = await this.jobs.get(jobId);
        if (stored?.status === 'running') return { ok: false, error: 'not_persisted' };
      } else {
        await this.forwarding.get(r.runId);
        try {
          const owner = await this.route(jobId);
          if (owner) return await owner.result(agentName, r);
        } catch (err) {
          this.log.warn('result not forwarded to the job owner', { runId: r.runId, error: (err as Error).message });
          return { ok: false, error: 'not_persisted' };
        }
      }
    }
    const received = performance.now();
    const job = this.active.get(jobIdOfRun(r.runId)) ?? (await this.jobs.get(jobIdOfRun(r.runId)));
    const run = job ? runOf(job, r.runId) : undefined;
    if (!job || !run) return { ok: false, error: 'unknown_run' };
    if (runnerOf(run).name !== agentName) {
      this.log.warn('result for a run of another agent refused', { jobId: job.id, runId: r.runId, agent: agentName });
      return { ok: false, error: 'not_your_run' };
    }
    // A copy of this result may be being stored right now: its outcome decides (first wins, once stored).
    await this.finishing.get(run.id)?.catch(() => {});
    if (isTerminal(run.status)) return this.repeated(run);
    // The output came before the result on the same connection: store all of it first.
    await this.outputChains.get(run.id);
    // Some output could not be stored: refuse the result for now; the agent re-sends output, then the result.
    if (this.brokenOutput.has(run.id)) return { ok: false, error: 'not_persisted' };
    await this.finishing.get(run.id)?.catch(() => {});
    if (isTerminal(run.status)) return this.repeated(run);
    await this.finishRun(job, run, r.status, {
      finishedAt: r.finishedAt,
      error: r.error,
      exitCode: r.exitCode,
      signal: r.signal,
      startedAt: r.startedAt,
    });
    this.metrics.resultPersisted((performance.now() - received) / 1000);
    this.notifier.result(job.id, run.agent.name, r);
    return { ok: true };
  }

  /** A repeated result is acknowledged once the first is stored: the agent may drop it from its spool then. */
  private async repeated(run: Run): Promise<ResultAck> {
    await this.finishing.get(run.id)?.catch(() => {});
    return isTerminal(run.status) ? { ok: true } : { ok: false, error: 'not_persisted' };
  }

  async cancel(id: string, actor: Identity, forwarded = false): Promise<Job> {
    requireRole(actor, 'operator', 'cancel jobs');
    if (this.cluster && !forwarded && !this.active.has(id)) {
      const down = this.cluster.unavailable();
      if (down) throw storeUnavailable(down);
      const owner = await this.route(id);
      if (owner) return owner.cancel(id, actor);
    }
    const job = await this.get(id);
    if (this.cluster && job.status === 'running' && !this.active.has(id)) {
      throw new AppError(503, 'owner_unreachable', `the controller running job ${id} is unreachable: try again`);
    }
    if (job.status !== 'running') return job;
    await this.audit.record({
      ...by(actor),
      action: 'job_cancel',
      ok: true,
      jobId: id,
      agents: job.runs.filter((r) => !isTerminal(r.status)).map((r) => r.agent.name),
    });
    job.cancelRequested = true;
    this.log.info('job cancel requested', { jobId: id, by: actor.name });
    const pending: Promise<void>[] = [];
    for (const run of job.runs) {
      if (isTerminal(run.status)) continue;
      if (run.status === 'queued' || !this.gateway.isConnected(runnerOf(run).id)) {
        pending.push(this.finishRun(job, run, 'cancelled', { error: 'cancelled before the agent could be reached' }));
      } else {
        this.gateway
          .cancel(runnerOf(run).id, run.id)
          .catch((err: Error) =>
            this.log.warn('cancel not acknowledged', { jobId: job.id, runId: run.id, error: err.message }),
          );
      }
    }
    await Promise.all(pending);
    await this.jobs.put(job);
    return job;
  }

  /** An agent went away: if it is not back within `lostAfterMs`, its unfinished runs are lost. */
  agentDisconnected(agentName: string): void {
    if (this.stopped) return;
    if (!this.hasUnfinishedRuns(agentName)) return;
    clearTimeout(this.lostTimers.get(agentName));
    const timer = setTimeout(() => {
      this.lostTimers.delete(agentName);
      this.loseRuns(agentName, `agent ${agentName} did not come back within ${this.options.lostAfterMs} ms`);
    }, this.options.lostAfterMs);
    timer.unref();
    this.lostTimers.set(agentName, timer);
  }

  /**
   * An agent (re)connected: runs still `dispatched` to it may never have arrived (a crash, a cut): send them again.
   * The agent de-duplicates by runId, so this re-reports and never re-runs.
   */
  agentConnected(agentName: string): void {
    clearTimeout(this.lostTimers.get(agentName));
    this.lostTimers.delete(agentName);
    for (const job of [...this.active.values()]) {
      for (const run of job.runs) {
        if (runnerOf(run).name === agentName && run.status === 'dispatched') this.dispatch(job, run);
      }
      if (job.runs.some((r) => runnerOf(r).name === agentName && r.status === 'queued')) this.pump(job);
    }
  }

  private hasUnfinishedRuns(agentName: string): boolean {
    for (const job of this.active.values()) {
      if (job.runs.some((r) => runnerOf(r).name === agentName && !isTerminal(r.status))) return true;
    }
    return false;
  }

  private loseRuns(agentName: string, error: string, jobs: Iterable<Job> = this.active.values()): void {
    for (const job of [...jobs]) {
      for (const run of job.runs) {
        if (runnerOf(run).name === agentName && !isTerminal(run.status)) {
          const status = run.status === 'queued' ? 'unreachable' : 'lost';
          this.finishRun(job, run, status, { error }).catch((err: Error) =>
            this.log.error('lost run not persisted', { jobId: job.id, runId: run.id, error: err.message }),
          );
        }
      }
    }
  }

  private async finishRun(
    job: Job,
    run: Run,
    status: RunStatus,
    extra: {
      finishedAt?: string;
      error?: string;
      exitCode?: number | null;
      signal?: string | null;
      startedAt?: string;
    },
  ): Promise<void> {
    if (!canTransition(run.status, status)) return;
    const runBefore = { ...run };
    const jobBefore = { status: job.status, summary: job.summary, finishedAt: job.finishedAt };
    if (extra.exitCode !== undefined) run.exitCode = extra.exitCode;
    if (extra.signal !== undefined) run.signal = extra.signal;
    if (extra.startedAt) run.startedAt = extra.startedAt;
    run.status = status;
    run.finishedAt = extra.finishedAt ?? new Date().toISOString();
    if (extra.error) run.error = extra.error;
    run.durationMs = run.startedAt ? Math.max(0, Date.parse(run.finishedAt) - Date.parse(run.startedAt)) : null;
    this.refresh(job);
    // Only the run whose end ends the job ends it, after its own write (which holds the whole job as it ended). Two
    // results at once: the first one's write may be done while the job, ended meanwhile by the second, waits for the
    // next write; ended then, `job_finished` went out while GET read an older document (the last output missing).
    const endsJob = job.status !== 'running';
    const stored = this.jobs.put(job);
    this.finishing.set(run.id, stored);
    try {
      await stored;
    } catch (err) {
      // Not stored (full or read-only disk): undo, so the agent's retry of this result is applied later.
      for (const key of Object.keys(run) as Array<keyof Run>) if (!(key in runBefore)) delete run[key];
      Object.assign(run, runBefore);
      Object.assign(job, jobBefore);
      throw err;
    } finally {
      if (this.finishing.get(run.id) === stored) this.finishing.delete(run.id);
    }
    this.received.delete(run.id);
    this.brokenOutput.delete(run.id);
    this.log.info('run finished', { jobId: job.id, runId: run.id, agent: run.agent.name, status });
    this.metrics.runFinished(run);
    this.notifier.runUpdate(job, run.id);
    if (endsJob) this.jobEnded(job);
    else this.pump(job);
  }

  private jobEnded(job: Job): void {
    if (!this.active.delete(job.id)) return;
    // Written before the lease goes: nobody takes over a job that is finished.
    if (this.cluster) {
      const cluster = this.cluster;
      this.jobs.put(job).then(
        () => cluster.release(job.id),
        () => {},
      );
    }
    this.log.info('job finished', { jobId: job.id, status: job.status });
    this.metrics.jobFinished(job);
    this.notifier.jobFinished(job);
  }

  private changed(job: Job, run: Run): void {
    this.refresh(job);
    this.notifier.runUpdate(job, run.id);
    this.persistSoon(job);
  }

  private persistAfterOutput(job: Job): void {
    if (this.outputPersists.has(job.id)) return;
    const timer = setTimeout(() => {
      this.outputPersists.delete(job.id);
      this.persistSoon(job);
    }, OUTPUT_PERSIST_MS);
    timer.unref();
    this.outputPersists.set(job.id, timer);
  }

  private persistSoon(job: Job): void {
    this.jobs
      .put(job)
      .catch((err: Error) => this.log.error('job not persisted', { jobId: job.id, error: err.message }));
  }

  private refresh(job: Job): void {
    job.summary = summarize(job.runs);
    job.status = deriveJobStatus(job);
    if (job.status !== 'running') job.finishedAt ??= new Date().toISOString();
  }

  private findActiveRun(runId: string): { job: Job; run: Run } | undefined {
    const job = this.active.get(jobIdOfRun(runId));
    const run = job ? runOf(job, runId) : undefined;
    return job && run ? { job, run } : undefined;
  }
}

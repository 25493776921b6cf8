import { newId } from '../../domain/ids.js';
import type { Agent, Job, Run, RunStatus } from '../../domain/model.js';
import { canTransition, deriveJobStatus, isTerminal, summarize } from '../../domain/run-state.js';
import { parseSelector, select, SelectorError } from '../../domain/selector.js';
import type { CommandProgress, CommandResult, JobRequest, ResultAck } from '../../protocol/events.js';
import type { Logger } from '../../lib/log.js';
import { requireRole } from './auth-service.js';
import { badRequest, noMatch, notFound } from './errors.js';
import type { AgentGateway, ClientNotifier, Identity, JobRepository, OutputStore } from './ports.js';

/** Output kept inside the job document per run and stream; the rest is in the output store. */
export const DOC_OUTPUT_CAP = 64 * 1024;

export interface JobServiceOptions {
  /** How long after a run's timeout the controller waits for its result before calling it lost. */
  resultGraceMs: number;
  /** How long an agent may stay away mid-run before its runs are lost. */
  lostAfterMs: number;
}

export const runIdOf = (jobId: string, index: number) => `${jobId}_${index}`;
export const jobIdOfRun = (runId: string) => runId.slice(0, Math.max(0, runId.lastIndexOf('_')));
/** O(1): a run id carries its index in the job. */
const runOf = (job: Job, runId: string): Run | undefined => {
  const run = job.runs[Number(runId.slice(runId.lastIndexOf('_') + 1))];
  return run?.id === runId ? run : undefined;
};

/** Creates, dispatches, follows and cancels jobs; the only writer of job documents. */
export class JobService {
  /** Unfinished jobs, by id: the live copies every event mutates. */
  private readonly active = new Map<string, Job>();
  private readonly deadlines = new Map<string, NodeJS.Timeout>();
  private readonly lostTimers = new Map<string, NodeJS.Timeout>();
  /** Highest seq received per run (stored ones are `run.seq`); repeats at or below it are dropped. */
  private readonly received = new Map<string, number>();
  /** Per run, output is stored in seq order: each chunk waits for the one before. */
  private readonly outputChains = new Map<string, Promise<void>>();
  /** Runs with output that could not be stored, waiting for the agent to send it again. */
  private readonly brokenOutput = new Set<string>();
  /** Runs whose terminal status is being stored. */
  private readonly finishing = new Map<string, Promise<void>>();

  constructor(
    private readonly jobs: JobRepository,
    private readonly output: OutputStore,
    private readonly gateway: AgentGateway,
    private readonly notifier: ClientNotifier,
    private readonly log: Logger,
    private readonly options: JobServiceOptions,
  ) {}

  /** After a restart: pick up unfinished jobs; their agents have `lostAfterMs` to come back and report. */
  async start(agents: Agent[]): Promise<void> {
    for (const job of await this.jobs.listRunning()) {
      this.active.set(job.id, job);
      // Output files may hold bytes the job document never recorded (a crash between the two):
      // cut them back; the agents re-send those chunks, with seqs above the recorded one.
      for (const run of job.runs) {
        if (isTerminal(run.status)) continue;
        await this.output.truncate(job.id, run.id, 'stdout', run.stdoutBytes ?? 0);
        await this.output.truncate(job.id, run.id, 'stderr', run.stderrBytes ?? 0);
      }
      this.armDeadline(job);
    }
    for (const agent of agents) this.agentDisconnected(agent.name);
  }

  stop(): void {
    for (const t of [...this.deadlines.values(), ...this.lostTimers.values()]) clearTimeout(t);
    this.deadlines.clear();
    this.lostTimers.clear();
  }

  async create(
    request: JobRequest,
    actor: Identity,
    agents: Agent[],
    onCreated: (job: Job) => void = () => {},
  ): Promise<Job> {
    requireRole(actor, 'operator', 'run jobs');
    let selector;
    try {
      selector = parseSelector(request.target);
    } catch (err) {
      if (err instanceof SelectorError) throw badRequest(err.message);
      throw err;
    }
    const targets = select(selector, agents).sort((a, b) => a.name.localeCompare(b.name));
    if (targets.length === 0) {
      const what = request.target.length ? request.target.map((t) => `-t '${t}'`).join(' ') : '--all';
      throw noMatch(`no agent matched ${what}`);
    }
    const now = new Date().toISOString();
    const id = newId('j');
    const runs: Run[] = targets.map((agent, i) => {
      const connected = this.gateway.isConnected(agent.id);
      return {
        id: runIdOf(id, i),
        agent: { id: agent.id, name: agent.name },
        status: connected ? 'dispatched' : 'unreachable',
        exitCode: null,
        signal: null,
        stdout: '',
        stderr: '',
        seq: 0,
        startedAt: null,
        finishedAt: connected ? null : now,
        durationMs: null,
        ...(connected ? {} : { error: 'agent offline' }),
      };
    });
    const job: Job = {
      id,
      command: request.command,
      executor: request.executor,
      target: request.target,
      timeoutMs: request.timeoutMs,
      ...(request.env ? { env: request.env } : {}),
      status: 'running',
      createdBy: actor.name,
      createdAt: now,
      finishedAt: null,
      runs,
      summary: summarize(runs),
    };
    this.refresh(job);
    await this.jobs.put(job);
    this.log.info('job created', { jobId: id, by: actor.name, runs: runs.length, command: request.command });
    onCreated(job);
    if (job.status !== 'running') {
      this.notifier.jobFinished(job);
      return job;
    }
    this.active.set(id, job);
    this.armDeadline(job);
    for (const run of runs) if (run.status === 'dispatched') this.dispatch(job, run);
    return job;
  }

  private dispatch(job: Job, run: Run): void {
    this.gateway
      .execute(run.agent.id, {
        runId: run.id,
        jobId: job.id,
        command: job.command,
        executor: job.executor,
        timeoutMs: job.timeoutMs,
        ...(job.env ? { env: job.env } : {}),
      })
      .then(
        (ack) => {
          if (isTerminal(run.status)) return;
          if (!ack.accepted) return this.finishRun(job, run, 'rejected', { error: ack.reason ?? 'refused by agent' });
          if (run.status === 'dispatched') {
            run.status = 'running';
            run.startedAt ??= new Date().toISOString();
            this.changed(job, run);
          }
        },
        (err: Error) =>
          this.log.warn('dispatch not acknowledged', { jobId: job.id, runId: run.id, error: err.message }),
      )
      .catch((err: Error) => this.log.error('run not persisted', { runId: run.id, error: err.message }));
  }

  async get(id: string): Promise<Job> {
    const job = this.active.get(id) ?? (await this.jobs.get(id));
    if (!job) throw notFound(`no job "${id}"`);
    return job;
  }

  list(limit: number, before?: string): Promise<Job[]> {
    return this.jobs.list({ limit, before });
  }

  async readOutput(jobId: string, runId: string, stream: 'stdout' | 'stderr'): Promise<string> {
    const job = await this.get(jobId);
    if (!job.runs.some((r) => r.id === runId)) throw notFound(`no run "${runId}" in job "${jobId}"`);
    return this.output.read(jobId, runId, stream);
  }

  /** A chunk of output from an agent; repeats (seq already seen) are dropped. Stored before it counts in the document. */
  progress(agentName: string, p: CommandProgress): void {
    const found = this.findActiveRun(p.runId);
    if (!found || found.run.agent.name !== agentName || isTerminal(found.run.status)) return;
    const { job, run } = found;
    if (p.seq <= (this.received.get(run.id) ?? run.seq)) return;
    // While storage is failing, only the stored seq counts, so the agent's re-sends fill the gap.
    if (!this.brokenOutput.has(run.id)) this.received.set(run.id, p.seq);
    if (run.status === 'dispatched') {
      run.status = 'running';
      run.startedAt ??= new Date().toISOString();
    }
    this.notifier.progress(job.id, agentName, p);
    const previous = this.outputChains.get(run.id) ?? Promise.resolve();
    const next = previous.then(async () => {
      if (p.seq <= run.seq) return;
      if (this.brokenOutput.has(run.id) && p.seq !== run.seq + 1) return;
      try {
        await this.output.append(job.id, run.id, p.stream, p.data);
      } catch (err) {
        this.brokenOutput.add(run.id);
        this.received.set(run.id, run.seq);
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
      const bytes = field === 'stdout' ? 'stdoutBytes' : 'stderrBytes';
      run[bytes] = (run[bytes] ?? 0) + Buffer.byteLength(p.data);
      const room = DOC_OUTPUT_CAP - run[field].length;
      if (room >= p.data.length) run[field] += p.data;
      else {
        run[field] += p.data.slice(0, Math.max(0, room));
        run[field === 'stdout' ? 'stdoutTruncated' : 'stderrTruncated'] = true;
      }
      this.persistSoon(job);
    });
    this.outputChains.set(run.id, next);
    void next.then(() => {
      if (this.outputChains.get(run.id) === next) this.outputChains.delete(run.id);
    });
  }

  /** A run's result; applied once (the first wins), acknowledged after it is persisted. */
  async result(agentName: string, r: CommandResult): Promise<ResultAck> {
    const job = this.active.get(jobIdOfRun(r.runId)) ?? (await this.jobs.get(jobIdOfRun(r.runId)));
    const run = job ? runOf(job, r.runId) : undefined;
    if (!job || !run) return { ok: false, error: 'unknown_run' };
    if (run.agent.name !== agentName) {
      this.log.warn('result for a run of another agent refused', { runId: r.runId, agent: agentName });
      return { ok: false, error: 'not_your_run' };
    }
    // A copy of this result may be being stored right now: its outcome decides (first wins, once stored).
    await this.finishing.get(run.id)?.catch(() => {});
    if (isTerminal(run.status)) return { ok: true };
    // The output came before the result on the same connection: store all of it first.
    await this.outputChains.get(run.id);
    // Some output could not be stored: refuse the result for now; the agent re-sends output, then the result.
    if (this.brokenOutput.has(run.id)) return { ok: false, error: 'not_persisted' };
    await this.finishing.get(run.id)?.catch(() => {});
    if (isTerminal(run.status)) return { ok: true };
    await this.finishRun(job, run, r.status, {
      finishedAt: r.finishedAt,
      error: r.error,
      exitCode: r.exitCode,
      signal: r.signal,
      startedAt: r.startedAt,
    });
    this.notifier.result(job.id, agentName, r);
    return { ok: true };
  }

  async cancel(id: string, actor: Identity): Promise<Job> {
    requireRole(actor, 'operator', 'cancel jobs');
    const job = await this.get(id);
    if (job.status !== 'running') return job;
    job.cancelRequested = true;
    this.log.info('job cancel requested', { jobId: id, by: actor.name });
    const pending: Promise<void>[] = [];
    for (const run of job.runs) {
      if (isTerminal(run.status)) continue;
      if (run.status === 'queued' || !this.gateway.isConnected(run.agent.id)) {
        pending.push(this.finishRun(job, run, 'cancelled', { error: 'cancelled before the agent could be reached' }));
      } else {
        this.gateway
          .cancel(run.agent.id, run.id)
          .catch((err: Error) => this.log.warn('cancel not acknowledged', { runId: run.id, error: err.message }));
      }
    }
    await Promise.all(pending);
    await this.jobs.put(job);
    return job;
  }

  /** An agent went away: if it is not back within `lostAfterMs`, its unfinished runs are lost. */
  agentDisconnected(agentName: string): void {
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
    for (const job of this.active.values()) {
      for (const run of job.runs)
        if (run.agent.name === agentName && run.status === 'dispatched') this.dispatch(job, run);
    }
  }

  private hasUnfinishedRuns(agentName: string): boolean {
    for (const job of this.active.values()) {
      if (job.runs.some((r) => r.agent.name === agentName && !isTerminal(r.status))) return true;
    }
    return false;
  }

  private loseRuns(agentName: string, error: string, jobs: Iterable<Job> = this.active.values()): void {
    for (const job of [...jobs]) {
      for (const run of job.runs) {
        if (run.agent.name === agentName && !isTerminal(run.status)) {
          this.finishRun(job, run, 'lost', { error }).catch((err: Error) =>
            this.log.error('lost run not persisted', { runId: run.id, error: err.message }),
          );
        }
      }
    }
  }

  private armDeadline(job: Job): void {
    const due = Date.parse(job.createdAt) + job.timeoutMs + this.options.resultGraceMs - Date.now();
    const timer = setTimeout(
      () => {
        this.deadlines.delete(job.id);
        for (const run of job.runs) {
          if (!isTerminal(run.status)) {
            this.finishRun(job, run, 'lost', { error: 'no result within the timeout and its grace period' }).catch(
              (err: Error) => this.log.error('lost run not persisted', { runId: run.id, error: err.message }),
            );
          }
        }
      },
      Math.max(0, due),
    );
    timer.unref();
    this.deadlines.set(job.id, timer);
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
    this.notifier.runUpdate(job, run.id);
    if (job.status !== 'running' && this.active.delete(job.id)) {
      clearTimeout(this.deadlines.get(job.id));
      this.deadlines.delete(job.id);
      this.log.info('job finished', { jobId: job.id, status: job.status });
      this.notifier.jobFinished(job);
    }
  }

  private changed(job: Job, run: Run): void {
    this.refresh(job);
    this.notifier.runUpdate(job, run.id);
    this.persistSoon(job);
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

import { jobIdOfRun } from '../../../domain/ids.js';
import type { Job, Run } from '../../../domain/model.js';
import { isTerminal } from '../../../domain/run-state.js';
import { runnerOf } from '../../../domain/targets.js';
import type { CommandProgress, CommandResult, ResultAck } from '../../../protocol/events.js';
import { storeUnavailable } from '../errors.js';
import type { Identity, JobCluster, RemoteJobs } from '../ports.js';
import type { Dispatcher } from './dispatch.js';
import type { JobBook } from './job-book.js';
import type { LostRuns } from './lost-runs.js';

/**
 * Scale-out (docs/architecture.md §5.1): unfinished jobs belong to the controllers that created them; this one renews
 * its leases every second, takes over the jobs whose owner is gone (their lease expired), as a restarted controller
 * picks its jobs up, and sends what it hears about jobs owned elsewhere to their owners.
 */
export class JobOwnership {
  /** Jobs being taken over from a controller that is gone. */
  private readonly adopting = new Map<string, Promise<boolean>>();
  /** Per run, output forwarded to the job's owner, in order. */
  private readonly forwarding = new Map<string, Promise<void>>();

  constructor(
    private readonly book: JobBook,
    private readonly cluster: JobCluster,
    private readonly dispatcher: Dispatcher,
    private readonly lost: LostRuns,
  ) {}

  /** Every second: renew the leases held; every other second, look for jobs whose owner is gone. */
  tick(ticks: number): void {
    this.cluster.renew([...this.book.active.keys()]).then(
      (lost) => {
        for (const id of lost) {
          // Another controller holds it now (this one could not renew in time): it is theirs.
          this.book.log.warn('job lease lost to another controller', { jobId: id });
          this.book.active.delete(id);
        }
      },
      () => {},
    );
    if (ticks % 2 === 0) {
      this.cluster.orphans().then(
        (ids) => ids.forEach((id) => void this.adopt(id).catch(() => {})),
        () => {},
      );
    }
  }

  /** Output for a job not active here: to its owner, in order per run; `local` when this controller handles it. */
  forwardProgress(
    agentName: string,
    p: CommandProgress,
    local: (agentName: string, p: CommandProgress) => Promise<void> | undefined,
  ): Promise<void> {
    const previous = this.forwarding.get(p.runId) ?? Promise.resolve();
    const next = previous
      .then(async () => {
        const owner = await this.route(jobIdOfRun(p.runId));
        if (owner) await owner.progress(agentName, p);
        else await local(agentName, p);
      })
      .catch((err: Error) =>
        this.book.log.warn('output not forwarded to the job owner', { runId: p.runId, error: err.message }),
      );
    this.forwarding.set(p.runId, next);
    void next.then(() => {
      if (this.forwarding.get(p.runId) === next) this.forwarding.delete(p.runId);
    });
    return next;
  }

  /** A result for a job not active here: the owner's answer, or undefined when this controller handles it. */
  async forwardResult(agentName: string, r: CommandResult): Promise<ResultAck | undefined> {
    await this.forwarding.get(r.runId);
    try {
      const owner = await this.route(jobIdOfRun(r.runId));
      return owner ? await owner.result(agentName, r) : undefined;
    } catch (err) {
      this.book.log.warn('result not forwarded to the job owner', { runId: r.runId, error: (err as Error).message });
      return { ok: false, error: 'not_persisted' };
    }
  }

  /** A cancel for a job not active here: the owner's answer, or undefined when this controller handles it. */
  async forwardCancel(jobId: string, actor: Identity): Promise<Job | undefined> {
    const down = this.cluster.unavailable();
    if (down) throw storeUnavailable(down);
    const owner = await this.route(jobId);
    return owner ? owner.cancel(jobId, actor) : undefined;
  }

  /** Shutdown: another controller takes these over at once instead of after the lease expires. */
  async releaseAll(jobs: Job[]): Promise<void> {
    await Promise.allSettled(jobs.map((job) => this.cluster.release(job.id)));
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
    const { book, cluster } = this;
    if (book.stopped || book.active.has(jobId)) return false;
    if (!(await cluster.claim(jobId))) return false;
    const job = await book.jobs.get(jobId);
    if (!job || job.status !== 'running') {
      await cluster.release(jobId);
      return false;
    }
    // Output the owner stored but never recorded in the document: the agent sends it again.
    await book.cutBackOutput(job);
    book.active.set(job.id, job);
    book.log.info('job taken over from a controller that is gone', { jobId });
    const names = new Set<string>();
    for (const run of job.runs) {
      if (isTerminal(run.status)) continue;
      const runner = runnerOf(run);
      names.add(runner.name);
      // It may never have arrived: sent again, the agent de-duplicates by runId (docs/protocol.md §7).
      if (run.status === 'dispatched' && book.gateway.isConnected(runner.id)) this.dispatcher.dispatch(job, run);
    }
    for (const name of names) {
      const run = job.runs.find((r) => runnerOf(r).name === name) as Run;
      if (!book.gateway.isConnected(runnerOf(run).id)) this.lost.agentDisconnected(name);
    }
    this.dispatcher.pump(job);
    return true;
  }

  /**
   * Where an event about a job that is not active here goes. Undefined: handle it here (this controller owns it,
   * took it over just now, or it is finished); else its owner.
   */
  private async route(jobId: string): Promise<RemoteJobs | undefined> {
    for (let attempt = 0; ; attempt++) {
      await this.adopting.get(jobId);
      if (this.book.active.has(jobId)) return undefined;
      const owner = await this.cluster.ownerOf(jobId);
      if (owner === 'self') return undefined;
      if (owner) return owner;
      if (await this.adopt(jobId)) return undefined;
      // Not taken: finished (handled from the store), or another controller took it a moment ago.
      const job = await this.book.jobs.get(jobId);
      if (!job || job.status !== 'running' || attempt >= 3) return undefined;
    }
  }
}

import { jobIdOfRun } from '../../domain/ids.js';
import type { Job, JobStdin } from '../../domain/model.js';
import { runnerOf } from '../../domain/targets.js';
import { STDIN_LIMITS, type StdinAck, type StdinChunk, type StdinData, type StdinEnd } from '../../protocol/stdin.js';
import type { Logger } from '../../lib/log.js';
import { AppError, forbidden } from './errors.js';
import type { JobService } from './job-service.js';
import type { Identity, StdinStore } from './ports.js';

export interface StdinServiceOptions {
  /** How long an upload that stopped before its end may be resumed before the runs reading it fail. */
  resumeMs: number;
  /** How long a `stdin_read` is held waiting for bytes before it is answered empty. */
  holdMs: number;
  /** Scale-out: bytes may come through another controller, so a held read looks at the store this often. */
  pollMs?: number;
  maxBytes?: number;
}

export const STDIN_INTERRUPTED = 'stdin upload interrupted: the client went away before the end of its stdin';

/**
 * A job's piped standard input (docs/architecture.md §3.9): the client that created the job uploads it, in order and
 * resumable by offset; each agent pulls it from the start at its own pace. The bytes stay with the job, so a run
 * delivered later reads the same ones.
 */
export class StdinService {
  private readonly waiters = new Map<string, Set<() => void>>();
  /** Uploads whose client went away, waiting for it to resume (by job). */
  private readonly orphaned = new Map<string, NodeJS.Timeout>();
  /** `agent run` pairs already checked: the run is the agent's. */
  private readonly checked = new Set<string>();
  private readonly maxBytes: number;
  private stopped = false;

  constructor(
    private readonly store: StdinStore,
    private readonly jobs: () => JobService,
    private readonly log: Logger,
    private readonly options: StdinServiceOptions,
  ) {
    this.maxBytes = options.maxBytes ?? STDIN_LIMITS.maxBytes;
  }

  /** Bytes from the job's creator at `offset`; what is stored already is not stored again. */
  async upload(actor: Identity, p: StdinData): Promise<StdinAck> {
    const refused = await this.uploadable(actor, p.jobId);
    if (refused) return refused;
    this.resumed(p.jobId);
    const size = await this.store.append(p.jobId, p.offset, p.data, this.maxBytes);
    if (size < 0) return this.tooLarge(actor, p.jobId);
    if (size < p.offset) {
      return {
        ok: false,
        error: 'stdin_gap',
        message: `the controller has ${size} bytes of stdin, not ${p.offset}`,
        size,
      };
    }
    this.changed(p.jobId, { bytes: size, ended: false });
    return { ok: true, size };
  }

  /** The end of the job's stdin after `size` bytes: readers get end-of-file there. */
  async end(actor: Identity, p: StdinEnd): Promise<StdinAck> {
    const refused = await this.uploadable(actor, p.jobId);
    if (refused) return refused;
    this.resumed(p.jobId);
    const state = await this.store.state(p.jobId);
    if (state.bytes !== p.size) {
      const message = `the controller has ${state.bytes} bytes of stdin, not ${p.size}`;
      return { ok: false, error: 'stdin_gap', message, size: state.bytes };
    }
    await this.store.finish(p.jobId, { ended: true });
    this.changed(p.jobId, { bytes: state.bytes, ended: true });
    return { ok: true, size: state.bytes };
  }

  /**
   * The client uploading this job's stdin went away before its end: if nobody resumes the upload within
   * `resumeMs` (here or, in a cluster, on another controller), the runs still reading it fail, never a silent
   * end-of-file that would truncate what they write.
   */
  uploaderGone(jobId: string): void {
    clearTimeout(this.orphaned.get(jobId));
    const since = this.store.state(jobId);
    const timer = setTimeout(() => {
      this.orphaned.delete(jobId);
      void this.interrupt(jobId, since).catch((err: Error) =>
        this.log.error('interrupted stdin not recorded', { jobId, error: err.message }),
      );
    }, this.options.resumeMs);
    timer.unref();
    this.orphaned.set(jobId, timer);
  }

  private async interrupt(jobId: string, since: Promise<JobStdin>): Promise<void> {
    const [before, now, job] = await Promise.all([since, this.store.state(jobId), this.jobs().get(jobId)]);
    // Resumed elsewhere meanwhile (more bytes, or its end), or nothing is reading any more.
    if (now.ended || now.error || now.bytes !== before.bytes || job.status !== 'running') return;
    this.log.warn('stdin upload not resumed: the runs still reading it fail', { jobId, bytes: now.bytes });
    await this.store.finish(jobId, { error: STDIN_INTERRUPTED });
    this.changed(jobId, { ...now, error: STDIN_INTERRUPTED });
  }

  /** What a run reads from `offset`: held until there are bytes, the end, or `holdMs` (then empty: ask again). */
  async read(agentName: string, runId: string, offset: number): Promise<StdinChunk> {
    const jobId = jobIdOfRun(runId);
    const key = `${agentName}\n${runId}`;
    if (!this.checked.has(key)) {
      const job = await this.jobs()
        .get(jobId)
        .catch((err: Error) => {
          if (err instanceof AppError && err.status === 404) return undefined;
          throw err;
        });
      const run = job?.runs.find((r) => r.id === runId);
      if (!job || !run) return { ok: false, error: 'unknown_run', message: `no run ${runId}` };
      if (runnerOf(run).name !== agentName)
        return { ok: false, error: 'not_your_run', message: `${runId} is not yours` };
      if (!job.stdin) return { ok: true, data: Buffer.alloc(0), eof: true };
      if (this.checked.size > 10_000) this.checked.clear();
      this.checked.add(key);
    }
    const until = Date.now() + this.options.holdMs;
    for (;;) {
      const state = await this.store.state(jobId);
      if (state.error) return { ok: false, error: 'stdin_interrupted', message: state.error };
      if (state.bytes > offset) {
        const data = await this.store.read(jobId, offset, Math.min(STDIN_LIMITS.chunkBytes, state.bytes - offset));
        return { ok: true, data, eof: state.ended && offset + data.length >= state.bytes };
      }
      if (state.ended) return { ok: true, data: Buffer.alloc(0), eof: true };
      const left = until - Date.now();
      if (left <= 0 || this.stopped) return { ok: true, data: Buffer.alloc(0), eof: false };
      await this.changes(jobId, Math.min(left, this.options.pollMs ?? left));
    }
  }

  /** Shutdown: held reads are answered (empty: the agents ask again, here or elsewhere), no upload is waited for. */
  stop(): void {
    this.stopped = true;
    for (const timer of this.orphaned.values()) clearTimeout(timer);
    this.orphaned.clear();
    for (const set of this.waiters.values()) for (const wake of set) wake();
  }

  private async uploadable(actor: Identity, jobId: string): Promise<StdinAck | undefined> {
    let job: Job;
    try {
      job = await this.jobs().get(jobId);
    } catch (err) {
      if (err instanceof AppError) return { ok: false, error: err.error, message: err.message };
      throw err;
    }
    if (job.createdBy !== actor.name) {
      const err = forbidden(`only ${job.createdBy}, who created job ${jobId}, sends its stdin`);
      return { ok: false, error: err.error, message: err.message };
    }
    if (!job.stdin) return { ok: false, error: 'invalid_request', message: `job ${jobId} takes no stdin` };
    if (job.status !== 'running') return { ok: false, error: 'job_finished', message: `job ${jobId} has ended` };
    return undefined;
  }

  private async tooLarge(actor: Identity, jobId: string): Promise<StdinAck> {
    const message = `stdin is larger than ${this.maxBytes / 1024 / 1024} MiB: the job was cancelled; copy large files with \`ogent cp\``;
    // Cancelled, not failed: the runs reading it wait for more until the cancel ends them.
    this.changed(jobId, { ...(await this.store.state(jobId)), error: message });
    await this.jobs()
      .cancel(jobId, actor)
      .catch((err: Error) => this.log.error('job not cancelled after too much stdin', { jobId, error: err.message }));
    return { ok: false, error: 'stdin_too_large', message };
  }

  private resumed(jobId: string): void {
    const timer = this.orphaned.get(jobId);
    if (!timer) return;
    clearTimeout(timer);
    this.orphaned.delete(jobId);
  }

  private changed(jobId: string, state: JobStdin): void {
    this.jobs().stdinChanged(jobId, state);
    const set = this.waiters.get(jobId);
    if (!set) return;
    this.waiters.delete(jobId);
    for (const wake of set) wake();
  }

  /** Resolves when this controller stores more of the job's stdin (or its end), or after `ms`. */
  private changes(jobId: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiters.get(jobId);
      if (!set) this.waiters.set(jobId, (set = new Set()));
      const wake = () => {
        clearTimeout(timer);
        set.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      timer.unref();
      set.add(wake);
    });
  }
}

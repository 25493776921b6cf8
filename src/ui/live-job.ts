import type { JobEvents } from '../protocol/job-events.js';
import type { Job, JobStatus, RunStatus } from '../domain/model.js';
import { isTerminal } from '../domain/run-state.js';
import type { RunBrief } from '../protocol/events.js';

/** Lines of output kept per run for the output pane (the controller keeps all of it: `jobs logs`). */
const KEEP_LINES = 400;
/** Characters kept of one line: the view shows one screen width of it. */
const KEEP_CHARS = 1000;

export interface OutputLine {
  stream: 'stdout' | 'stderr';
  text: string;
}

/** One run as the view shows it. */
export interface LiveRun {
  id: string;
  agent: string;
  status: RunStatus;
  exitCode: number | null;
  signal: string | null;
  error?: string;
  /** Epoch ms, controller time. */
  startedAt: number | null;
  durationMs: number | null;
  /** The last line of output that is not blank (a partial one included), raw. */
  lastLine: string;
}

export interface JobInfo {
  id: string;
  command: string;
  target: readonly string[];
  status: JobStatus;
  createdAt: number;
  finishedAt: number | null;
}

export interface Counts {
  total: number;
  done: number;
  succeeded: number;
  /** Every terminal status but `succeeded` and `cancelled`: failed, timed out, rejected, lost, unreachable, skipped. */
  failed: number;
  /** Said apart, as the summary line does: a cancelled job's runs did not fail. */
  cancelled: number;
  /** `dispatched` or `running`. */
  running: number;
  queued: number;
}

/** `live` while following; `finished` once the job ended; `detached` when the user left it running; `closed` on an error. */
export type Phase = 'live' | 'finished' | 'detached' | 'closed';

/** What one frame is drawn from: immutable, rebuilt only when something changed. */
export interface LiveJobState {
  version: number;
  phase: Phase;
  job: JobInfo | null;
  /** Problems first, then running, queued, succeeded; by agent name within each group. */
  runs: readonly LiveRun[];
  counts: Counts;
  /** Set when the job ended: the final job document. */
  final: Job | null;
}

interface RunState extends LiveRun {
  lines: OutputLine[];
  partial: Record<'stdout' | 'stderr', string>;
}

const RANK: Record<RunStatus, number> = {
  failed: 0,
  timed_out: 0,
  lost: 0,
  rejected: 0,
  unreachable: 0,
  cancelled: 0,
  skipped: 0,
  running: 1,
  dispatched: 1,
  queued: 2,
  succeeded: 3,
};

const time = (iso: string | null) => (iso ? Date.parse(iso) : null);
// web-2 before web-10.
const byName = new Intl.Collator('en', { numeric: true }).compare;

/**
 * The job as the live view sees it, fed by the same `JobEvents` stream as the plain and NDJSON renderers.
 * Every event costs O(size of the event); sorting and counting happen only when a frame is drawn (`state()`).
 */
export class LiveJob implements JobEvents {
  private readonly runsById = new Map<string, RunState>();
  private job: JobInfo | null = null;
  private final: Job | null = null;
  private phase: Phase = 'live';
  private version = 0;
  private cached: LiveJobState | null = null;
  private readonly listeners = new Set<() => void>();

  /** Bumped by every event; a frame is due when it differs from the one drawn. */
  get changes(): number {
    return this.version;
  }

  get jobId(): string | undefined {
    return this.job?.id;
  }

  snapshot(job: Job): void {
    this.job = {
      id: job.id,
      command: job.command,
      target: job.target,
      status: job.status,
      createdAt: Date.parse(job.createdAt),
      finishedAt: time(job.finishedAt),
    };
    for (const run of job.runs) this.update(run);
    this.version++;
  }

  output(agent: string, runId: string, stream: 'stdout' | 'stderr', data: string): void {
    const run = this.run(runId, agent);
    let start = 0;
    for (;;) {
      const nl = data.indexOf('\n', start);
      const piece = data.slice(start, nl === -1 ? undefined : nl);
      const partial = run.partial[stream];
      const text = partial.length >= KEEP_CHARS ? partial : (partial + piece).slice(0, KEEP_CHARS);
      if (nl === -1) {
        run.partial[stream] = text;
        if (text.trim() !== '') run.lastLine = text;
        break;
      }
      run.partial[stream] = '';
      run.lines.push({ stream, text });
      if (text.trim() !== '') run.lastLine = text;
      start = nl + 1;
    }
    if (run.lines.length > 2 * KEEP_LINES) run.lines.splice(0, run.lines.length - KEEP_LINES);
    this.version++;
  }

  runStatus(brief: RunBrief): void {
    this.update(brief);
    this.version++;
  }

  /** The job ended: the view draws its final summary. */
  finish(job: Job): void {
    this.snapshot(job);
    this.final = job;
    this.setPhase('finished');
  }

  detach(): void {
    if (this.phase === 'live') this.setPhase('detached');
  }

  close(): void {
    if (this.phase === 'live') this.setPhase('closed');
  }

  /** Called when the phase changes (not on every event: frames are paced by the view). */
  onPhase(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The last `count` lines of a run's output (stdout and stderr as they came), the partial line last. */
  tail(runId: string, count: number): OutputLine[] {
    const run = this.runsById.get(runId);
    if (!run || count <= 0) return [];
    const partials = (['stdout', 'stderr'] as const)
      .filter((stream) => run.partial[stream] !== '')
      .map((stream) => ({ stream, text: run.partial[stream] }));
    return [...run.lines.slice(-count), ...partials].slice(-count);
  }

  state(): LiveJobState {
    if (this.cached?.version === this.version) return this.cached;
    const runs: LiveRun[] = [];
    const counts: Counts = { total: 0, done: 0, succeeded: 0, failed: 0, cancelled: 0, running: 0, queued: 0 };
    for (const run of this.runsById.values()) {
      runs.push({
        id: run.id,
        agent: run.agent,
        status: run.status,
        exitCode: run.exitCode,
        signal: run.signal,
        ...(run.error ? { error: run.error } : {}),
        startedAt: run.startedAt,
        durationMs: run.durationMs,
        lastLine: run.lastLine,
      });
      counts.total++;
      if (run.status === 'succeeded') counts.succeeded++;
      else if (run.status === 'cancelled') counts.cancelled++;
      else if (isTerminal(run.status)) counts.failed++;
      else if (run.status === 'queued') counts.queued++;
      else counts.running++;
    }
    counts.done = counts.succeeded + counts.failed + counts.cancelled;
    runs.sort((a, b) => RANK[a.status] - RANK[b.status] || byName(a.agent, b.agent));
    this.cached = { version: this.version, phase: this.phase, job: this.job, runs, counts, final: this.final };
    return this.cached;
  }

  private setPhase(phase: Phase) {
    this.phase = phase;
    this.version++;
    for (const listener of this.listeners) listener();
  }

  private run(runId: string, agent: string): RunState {
    let run = this.runsById.get(runId);
    if (!run) {
      run = {
        id: runId,
        agent,
        status: 'queued',
        exitCode: null,
        signal: null,
        startedAt: null,
        durationMs: null,
        lastLine: '',
        lines: [],
        partial: { stdout: '', stderr: '' },
      };
      this.runsById.set(runId, run);
    }
    return run;
  }

  private update(brief: RunBrief) {
    const run = this.run(brief.id, brief.agent.name);
    // A terminal status is final; an older document never takes it back.
    if (isTerminal(run.status) && !isTerminal(brief.status)) return;
    run.status = brief.status;
    run.exitCode = brief.exitCode;
    run.signal = brief.signal;
    run.startedAt = time(brief.startedAt);
    run.durationMs = brief.durationMs;
    if (brief.error) run.error = brief.error;
  }
}

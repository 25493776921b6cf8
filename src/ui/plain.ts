import type { Job } from '../domain/model.js';
import { isTerminal } from '../domain/run-state.js';
import type { JobEvents } from '../protocol/job-events.js';
import type { RunBrief } from '../protocol/events.js';
import { ByteLineBuffer } from './lines.js';
import { runnerOf } from '../domain/targets.js';
import { jobSummaryLine, runOutcome } from './summary.js';

export interface Out {
  write(chunk: string | Uint8Array): unknown;
  /** A Writable's: bytes written and not yet taken by the pipe or terminal. */
  writableLength?: number;
  once?(event: 'drain' | 'close' | 'error', listener: () => void): unknown;
  off?(event: 'drain' | 'close' | 'error', listener: () => void): unknown;
}

/** Bytes a renderer lets pile up unwritten before the job stream stops reading (JobEvents.blocked). */
export const OUTPUT_BACKLOG_MAX = 4 * 1024 * 1024;

/** A promise for the first of `outs` whose unwritten bytes are over the limit to drain; undefined when none is. */
function backlogged(...outs: Out[]): Promise<void> | undefined {
  const full = outs.find((o) => (o.writableLength ?? 0) > OUTPUT_BACKLOG_MAX && o.once);
  // A pipe closed by its reader (`| head`) never drains: its close or error ends the wait too.
  return (
    full &&
    new Promise<void>((resolve) => {
      const events = ['drain', 'close', 'error'] as const;
      const done = () => {
        for (const event of events) full.off?.(event, done);
        resolve();
      };
      for (const event of events) full.once?.(event, done);
    })
  );
}

/**
 * Not a TTY: every complete output line as it arrives, `NAME: line`, its bytes as the command wrote them; stderr lines
 * on stderr; a summary on stderr.
 */
export class PlainRenderer implements JobEvents {
  private readonly lines = new ByteLineBuffer();
  private width = 0;

  private announced = false;

  constructor(
    private readonly stdout: Out = process.stdout,
    private readonly stderr: Out = process.stderr,
    /** `exec`: name the job on stderr as soon as it exists, so another terminal or a cron log can find it. */
    private readonly announce = false,
  ) {}

  snapshot(job: Job) {
    this.width = Math.max(this.width, ...job.runs.map((r) => r.agent.name.length));
    if (this.announce && !this.announced) {
      this.announced = true;
      this.stderr.write(`${jobAnnouncement(job)}\n`);
    }
  }

  private prefix(agent: string) {
    return `${agent}:`.padEnd(this.width + 2);
  }

  output(agent: string, runId: string, stream: 'stdout' | 'stderr', data: string) {
    this.outputBytes(agent, runId, stream, Buffer.from(data));
  }

  outputBytes(agent: string, runId: string, stream: 'stdout' | 'stderr', data: Buffer) {
    // One write per chunk, not per line: 100 MB of 100-byte lines was a million writes (BENCHMARKS.md, stream).
    const lines = this.lines.prefixed(`${runId}:${stream}`, data, Buffer.from(this.prefix(agent)));
    if (lines) (stream === 'stdout' ? this.stdout : this.stderr).write(lines);
  }

  runStatus(run: RunBrief) {
    if (!isTerminal(run.status)) return;
    const prefix = Buffer.from(this.prefix(run.agent.name));
    for (const [stream, out] of [
      ['stdout', this.stdout],
      ['stderr', this.stderr],
    ] as const) {
      const rest = this.lines.flush(`${run.id}:${stream}`);
      if (rest) out.write(Buffer.concat([prefix, rest, Buffer.from('\n')]));
    }
    if (run.status !== 'succeeded') this.stderr.write(`${this.prefix(run.agent.name)}[${runOutcome(run)}]\n`);
  }

  finished(job: Job) {
    this.stderr.write(`${jobSummaryLine(job)}\n`);
  }

  blocked() {
    return backlogged(this.stdout, this.stderr);
  }
}

/** `--stream`: NDJSON events as they happen (`run_started`, `output`, `run_finished`, `job_finished`). */
export class NdjsonRenderer implements JobEvents {
  private readonly started = new Set<string>();
  constructor(private readonly stdout: Out = process.stdout) {}

  private emit(event: Record<string, unknown>) {
    this.stdout.write(`${JSON.stringify({ event: event.event, time: new Date().toISOString(), ...event })}\n`);
  }

  private start(agent: string, runId: string) {
    if (this.started.has(runId)) return;
    this.started.add(runId);
    this.emit({ event: 'run_started', agent, runId });
  }

  output(agent: string, runId: string, stream: 'stdout' | 'stderr', data: string) {
    this.start(agent, runId);
    this.emit({ event: 'output', agent, runId, stream, data });
  }

  runStatus(run: RunBrief) {
    if (run.status === 'running') this.start(run.agent.name, run.id);
    if (isTerminal(run.status)) this.emit({ event: 'run_finished', agent: run.agent.name, runId: run.id, run });
  }

  finished(job: Job) {
    this.emit({ event: 'job_finished', job });
  }

  blocked() {
    return backlogged(this.stdout);
  }
}

/** `job j0abc: 12 runs on 12 agents` (ssh hosts share the agent that reaches them). */
export function jobAnnouncement(job: Pick<Job, 'id' | 'runs'>): string {
  const runs = job.runs.length;
  const agents = new Set(job.runs.map((r) => runnerOf(r).id)).size;
  return `job ${job.id}: ${runs} run${runs === 1 ? '' : 's'} on ${agents} agent${agents === 1 ? '' : 's'}`;
}

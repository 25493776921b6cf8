import type { Job, Run, RunStatus } from '../../../src/domain/model.js';
import { deriveJobStatus, summarize } from '../../../src/domain/run-state.js';
import type { LiveRun } from '../../../src/ui/live-job.js';

export const T0 = Date.parse('2026-01-01T10:00:00.000Z');
export const iso = (ms: number) => new Date(ms).toISOString();

/** A run of `job(…)`: terminal runs started at T0 and took 1.5 s. */
export function run(name: string, status: RunStatus, extra: Partial<Run> = {}): Run {
  const terminal = !['queued', 'dispatched', 'running'].includes(status);
  const started = status === 'queued' || status === 'unreachable' ? null : iso(T0);
  return {
    id: `j1_${name}`,
    agent: { id: `a-${name}`, name },
    status,
    exitCode: status === 'succeeded' ? 0 : status === 'failed' ? 1 : null,
    signal: null,
    stdout: '',
    stderr: '',
    seq: 0,
    startedAt: started,
    finishedAt: terminal && started ? iso(T0 + 1500) : null,
    durationMs: terminal && started ? 1500 : null,
    ...extra,
  };
}

export function job(runs: Run[], extra: Partial<Job> = {}): Job {
  const status = deriveJobStatus({ runs });
  return {
    id: 'j1',
    command: 'uptime',
    executor: 'shell',
    target: ['role=web'],
    timeoutMs: 60_000,
    status,
    createdBy: 'admin',
    createdAt: iso(T0),
    finishedAt: status === 'running' ? null : iso(T0 + 2000),
    runs,
    summary: summarize(runs),
    ...extra,
  };
}

/** A row as the view gets it from the model. */
export function liveRun(name: string, status: RunStatus, extra: Partial<LiveRun> = {}): LiveRun {
  const r = run(name, status);
  return {
    id: r.id,
    agent: name,
    status,
    exitCode: r.exitCode,
    signal: null,
    startedAt: r.startedAt ? Date.parse(r.startedAt) : null,
    durationMs: r.durationMs,
    lastLine: '',
    ...extra,
  };
}

/** Polls until `check` passes on the current frame (Ink draws after React commits, a tick later). */
export async function until(frame: () => string | undefined, check: (text: string) => boolean): Promise<string> {
  for (let i = 0; i < 400; i++) {
    const text = frame() ?? '';
    if (check(text)) return text;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`the frame never matched; last frame:\n${frame() ?? ''}`);
}

/**
 * What `client/` may use of `ui/` (docs/architecture.md §2): render functions and the renderer of an output mode,
 * never a component. `ui/` imports nothing of `client/`: what a renderer is told is `protocol/job-events.ts`.
 */
import type { Job } from '../domain/model.js';
import type { JobEvents } from '../protocol/job-events.js';
import { GroupRenderer } from './groups.js';
import { NdjsonRenderer, PlainRenderer, type Out } from './plain.js';

export { groupSummaryText } from './groups.js';
export { planText } from './plan.js';
export type { Out } from './plain.js';

/** `group` and `group-json`: `--group`, one block per distinct output once the job ends (ui/groups.ts). */
export type OutputMode = 'plain' | 'json' | 'stream' | 'tui' | 'group' | 'group-json';

/** A renderer of job events that prints the end of the job too. */
export interface Renderer extends JobEvents {
  finished(job: Job): void;
}

/**
 * The renderer of a printed mode: `plain` lines, `stream` (NDJSON), `group`, `group-json`; undefined for `json` (the
 * job document at the end) and `tui` (the live view, `loadJobView`). `announce`: in plain modes, `job ID: N runs on
 * M agents` on stderr as soon as the job exists.
 */
export function rendererFor(
  mode: OutputMode,
  io: { stdout: Out; stderr: Out },
  announce: boolean,
): Renderer | undefined {
  if (mode === 'plain') return new PlainRenderer(io.stdout, io.stderr, announce);
  if (mode === 'stream') return new NdjsonRenderer(io.stdout);
  if (mode === 'group' || mode === 'group-json') {
    return new GroupRenderer(mode === 'group-json', io.stdout, io.stderr, announce && mode === 'group');
  }
  return undefined;
}

/** The live view (Ink and React), loaded only when asked: pipes, cron and other commands never load it. */
export const loadJobView = () => import('./render-job-view.js');

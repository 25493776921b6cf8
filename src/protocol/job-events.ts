import type { Job } from '../domain/model.js';
import type { RunBrief } from './events.js';

/** What a renderer is told as a job unfolds; every output byte exactly once, in order per run and stream. */
export interface JobEvents {
  snapshot?(job: Job): void;
  output(agent: string, runId: string, stream: 'stdout' | 'stderr', data: string): void;
  /** The same output as bytes, when the renderer takes them (nothing decoded): then `output` gets none of it. */
  outputBytes?(agent: string, runId: string, stream: 'stdout' | 'stderr', data: Buffer): void;
  /** A run changed status (each status once). */
  runStatus(run: RunBrief): void;
  /**
   * While what `output` wrote has not drained (a slow pipe or terminal): a promise for when it has. The stream then
   * stops reading from the controller, which after 4 MiB stops sending this client live output and has it catch up
   * from the stored output later, so neither process buffers a fast run's output without limit.
   */
  blocked?(): Promise<void> | undefined;
}

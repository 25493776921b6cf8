import { createRequire } from 'node:module';
import type { Job } from '../domain/model.js';
import { jobExitCode } from '../domain/run-state.js';
import { EXIT, type ExitCode } from '../lib/errors.js';
import { groupSummaryText, loadJobView, type OutputMode } from '../ui/renderers.js';
import { ApiClient } from './api.js';
import type { Session } from './credentials.js';
import { JobStream, type FollowOptions } from './job-stream.js';

/** Creates or attaches to the job on `stream` (`stream.create(…)`, `stream.follow(id)`), passing `options` on. */
export type StartJob = (stream: JobStream, options: FollowOptions) => Promise<Job>;

/**
 * The output of README, `ogent exec`: `--group` (with `--json`: grouped JSON), `--json`, `--stream`, else the live view on a terminal that can draw it,
 * else plain lines. Pipes, cron and `TERM=dumb` never get the live view, so never an escape code; nor does `CI`
 * (Ink draws only a last frame there, so plain lines say more).
 */
export function outputMode(
  flags: { json?: boolean; stream?: boolean; noTui?: boolean; group?: boolean },
  stdout: { isTTY?: boolean } = process.stdout,
  env: NodeJS.ProcessEnv = process.env,
): OutputMode {
  if (flags.group) return flags.json ? 'group-json' : 'group';
  if (flags.json) return 'json';
  if (flags.stream) return 'stream';
  const ci = ['CI', 'CONTINUOUS_INTEGRATION'].some((k) => env[k] !== undefined && env[k] !== '0' && env[k] !== 'false');
  return !flags.noTui && stdout.isTTY === true && env.TERM !== 'dumb' && !ci ? 'tui' : 'plain';
}

/**
 * Follows a job in the live view, fed by the same `JobStream` events as the plain and NDJSON renderers.
 * Exit code: the job's (§5.6) when it ends; 1 when the user detaches, since 0 means "every run succeeded"
 * and a detached job has not been seen to end (scripts never get here: they have no terminal).
 */
export async function followLive(session: Session, start: StartJob): Promise<ExitCode> {
  preferProductionReact();
  // Loaded here only: pipes, cron and every other command never load Ink and React.
  const { renderJobView } = await loadJobView();
  const api = new ApiClient(session);
  const view = renderJobView({ cancelJob: (jobId) => api.cancelJob(jobId) });
  try {
    const job = await start(new JobStream(session, view.events), { signal: view.detached });
    await view.finish(job);
    // Under the last frame, the answer stays on screen: a job that ended in a blink is not gone with the view.
    process.stdout.write(groupSummaryText(job));
    return jobExitCode(job);
  } catch (err) {
    await view.close();
    if (view.detached.aborted) return EXIT.runsFailed;
    throw err;
  }
}

/**
 * React's production build: the development one spends more CPU on every frame (checks, profiling marks).
 * Only while React is not loaded yet: a development React with a production renderer draws nothing.
 */
function preferProductionReact(): void {
  if (process.env.NODE_ENV !== undefined) return;
  // In the single executable (one CommonJS bundle) there is no module URL and React is not loaded before this runs.
  const url = (import.meta as { url?: string }).url;
  const loaded =
    url !== undefined &&
    Object.keys(createRequire(url).cache).some((path) => /[\\/]node_modules[\\/]react[\\/]/.test(path));
  if (!loaded) process.env.NODE_ENV = 'production';
}

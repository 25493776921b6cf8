import { render } from 'ink';
import type { JobEvents } from '../protocol/job-events.js';
import type { Job } from '../domain/model.js';
import JobView from './JobView.js';
import { LiveJob } from './live-job.js';
import { colorWanted, theme } from './theme.js';
import { ThemeContext } from './theme-context.js';

export interface JobViewOptions {
  /** Asks the controller to cancel the job (`c`, confirmed). */
  cancelJob(jobId: string): Promise<unknown>;
  stdout?: NodeJS.WriteStream;
  stdin?: NodeJS.ReadStream;
  env?: NodeJS.ProcessEnv;
  /** Aborting it closes the view where it stands (an error ends the follow). */
  signal?: AbortSignal;
}

export interface JobViewHandle {
  /** Feed it the job's events (the `JobStream`). */
  events: JobEvents;
  /** Aborted when the user detaches (`q`, or Ctrl-C twice): stop following, leave the job running. */
  detached: AbortSignal;
  /** The job ended: draws the final summary, which stays on screen, and resolves once the view is gone. */
  finish(job: Job): Promise<void>;
  /** Ends the view as it stands (after a detach or an error); resolves once it is gone. */
  close(): Promise<void>;
  /** Resolves once the view is gone, however it ended. */
  gone: Promise<void>;
}

/** Frames a second the view draws, whatever the rate of events (1,000 agents stream 10,000 lines a second). */
const FPS = 10;
/**
 * Ink's own cap, above FPS: the view paces itself, and two throttles at the same period beat against each other
 * (measured: 5 frames a second). Keys redraw at once, within this cap.
 */
const MAX_FPS = 2 * FPS;

/** Renders the live view of one job on a terminal. Only for a TTY: pipes and cron get the plain renderer. */
export function renderJobView(options: JobViewOptions): JobViewHandle {
  const stdout = options.stdout ?? process.stdout;
  const stdin = options.stdin ?? process.stdin;
  const model = new LiveJob();
  const detach = new AbortController();
  const instance = render(
    <ThemeContext.Provider value={theme(colorWanted(options.env ?? process.env, stdout))}>
      <JobView
        model={model}
        interactive={stdin.isTTY === true}
        cancelJob={options.cancelJob}
        onDetach={() => detach.abort()}
        refreshMs={1000 / FPS}
      />
    </ThemeContext.Provider>,
    { stdout, stdin, exitOnCtrlC: false, patchConsole: false, maxFps: MAX_FPS },
  );
  const gone = instance.waitUntilExit().then(
    () => undefined,
    () => undefined,
  );
  const close = () => {
    model.close();
    return gone;
  };
  options.signal?.addEventListener('abort', () => void close(), { once: true });
  return {
    events: model,
    detached: detach.signal,
    finish(job) {
      model.finish(job);
      return gone;
    },
    close,
    gone,
  };
}

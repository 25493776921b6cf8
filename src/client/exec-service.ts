import type { Job } from '../domain/model.js';
import { jobExitCode } from '../domain/run-state.js';
import { parseSelector, SelectorError } from '../domain/selector.js';
import { EXIT, usageError, type ExitCode } from '../lib/errors.js';
import type { JobRequest } from '../protocol/events.js';
import { NdjsonRenderer, PlainRenderer, type Out } from '../ui/plain.js';
import { ApiClient } from './api.js';
import type { Session } from './credentials.js';
import { JobStream } from './job-stream.js';

export type OutputMode = 'plain' | 'json' | 'stream';

export interface ExecOptions {
  command: string;
  targets: string[];
  all: boolean;
  timeoutMs: number;
  env?: Record<string, string>;
  mode: OutputMode;
  async: boolean;
  /** How long to wait for a controller that went away before exiting 4. */
  patienceMs?: number;
}

export interface Io {
  stdout: Out;
  stderr: Out;
}

/** Checks the selector before anything is sent (exit 2 on bad input). */
export function buildJobRequest(
  options: Pick<ExecOptions, 'command' | 'targets' | 'all' | 'timeoutMs' | 'env'>,
): JobRequest {
  if (options.command.trim() === '') throw usageError('no command given', 'ogent exec -t NAME -- COMMAND');
  if (options.all && options.targets.length) throw usageError('--all and -t cannot be combined');
  if (!options.all && !options.targets.length) {
    throw usageError('no target: pass -t SELECTOR or --all', "ogent exec -t 'web-*' -- uptime");
  }
  try {
    parseSelector(options.targets);
  } catch (err) {
    if (err instanceof SelectorError) throw usageError(err.message, "e.g. -t 'web-*,role=db' -t '!web-3'");
    throw err;
  }
  return {
    command: options.command,
    target: options.targets,
    executor: 'shell',
    timeoutMs: options.timeoutMs,
    ...(options.env ? { env: options.env } : {}),
  };
}

/** Runs a job and renders it; returns the exit code of DESIGN §5.6. */
export async function runExec(options: ExecOptions, session: Session, io: Io): Promise<ExitCode> {
  const request = buildJobRequest(options);
  if (options.async) {
    const job = await new ApiClient(session).createJob(request);
    io.stdout.write(options.mode === 'json' ? `${JSON.stringify({ id: job.id })}\n` : `${job.id}\n`);
    return EXIT.ok;
  }
  return follow(session, io, options.mode, (stream) => stream.create(request, { patienceMs: options.patienceMs }));
}

/** Attaches to a job (exec, jobs wait) with the renderer of `mode`; returns the job's exit code. */
export async function follow(
  session: Session,
  io: Io,
  mode: OutputMode,
  start: (stream: JobStream) => Promise<Job>,
): Promise<ExitCode> {
  const renderer =
    mode === 'plain'
      ? new PlainRenderer(io.stdout, io.stderr)
      : mode === 'stream'
        ? new NdjsonRenderer(io.stdout)
        : null;
  const stream = new JobStream(session, renderer ?? { output() {}, runStatus() {} });
  const job = await start(stream);
  if (renderer) renderer.finished(job);
  else io.stdout.write(`${JSON.stringify(job, null, 2)}\n`);
  return jobExitCode(job);
}

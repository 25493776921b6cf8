import type { Readable } from 'node:stream';
import { jobExitCode } from '../domain/run-state.js';
import { parseSelector, SelectorError } from '../domain/selector.js';
import { EXIT, usageError, type ExitCode } from '../lib/errors.js';
import type { JobRequest } from '../protocol/events.js';
import type { RerunBody } from '../protocol/plans.js';
import { rendererFor, type OutputMode, type Out } from '../ui/renderers.js';
import { ApiClient } from './api.js';
import type { Session } from './credentials.js';
import { JobStream } from './job-stream.js';
import { runPlan, type AiOptions } from './exec-plan.js';
import { executorFields, type ExecutorOptions } from './executor-request.js';
import { followLive, outputMode, type StartJob } from './live-follow.js';
import { checkControllerTakesStdin, peekStdin, refuseUnsentStdin, StdinUpload } from './stdin-upload.js';

export type { OutputMode } from '../ui/renderers.js';

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
  /** `--max-concurrency`, `--max-errors`, `--deliver-within`, `--canary`, `--batch-wait`. */
  rollout?: Pick<JobRequest, 'maxConcurrency' | 'maxErrors' | 'deliverWithinMs' | 'canary' | 'batchWaitMs'>;
  /** `--executor`, `--script`, `--cwd`, `--ssh-target`, `--via`; default: shell. */
  executor?: ExecutorOptions;
  /** `--ai` / `--review`: the command is (or is checked by) a model's, shown and confirmed first. */
  ai?: AiOptions;
  /** Forward stdin to every run (it is not a terminal, and not `-n`; stdin-upload.ts `forwardsStdin`). */
  stdin?: boolean;
}

export interface Io {
  stdout: Out;
  stderr: Out;
  /** What `stdin` forwards (default process.stdin). */
  stdin?: Readable;
}

/** Checks the selector before anything is sent (exit 2 on bad input). */
export function buildJobRequest(
  options: Pick<ExecOptions, 'command' | 'targets' | 'all' | 'timeoutMs' | 'env' | 'executor'>,
): JobRequest {
  if (options.command.trim() === '' && !options.executor?.script) {
    throw usageError('no command given', 'ogent exec -t NAME -- COMMAND');
  }
  if (options.all && options.targets.length) throw usageError('--all and -t cannot be combined');
  const fields = executorFields(options.command, options.executor, options.all || options.targets.length > 0);
  if (!options.all && !options.targets.length && !fields.sshTarget) {
    throw usageError('no target: pass -t SELECTOR or --all', "ogent exec -t 'web-*' -- uptime");
  }
  try {
    parseSelector(options.targets);
  } catch (err) {
    if (err instanceof SelectorError) throw usageError(err.message, "e.g. -t 'web-*,role=db' -t '!web-3'");
    throw err;
  }
  return {
    ...fields,
    target: options.targets,
    timeoutMs: options.timeoutMs,
    ...(options.env ? { env: options.env } : {}),
  };
}

/** Runs a job and renders it; returns the exit code of docs/protocol.md §8. */
export async function runExec(options: ExecOptions, session: Session, io: Io): Promise<ExitCode> {
  const request: JobRequest = { ...buildJobRequest(options), ...options.rollout };
  if (options.stdin) return runWithStdin(request, options, session, io);
  const planned = options.ai ? await runPlan(request, options.ai, session, io, options.mode) : undefined;
  if (typeof planned === 'number') return planned;
  if (options.async) {
    return printJobId(io, options.mode, (planned ?? (await new ApiClient(session).createJob(request))).id);
  }
  return follow(
    session,
    io,
    options.mode,
    (stream, opts) =>
      planned
        ? stream.follow(planned.id, { ...opts, patienceMs: options.patienceMs })
        : stream.create(request, { ...opts, patienceMs: options.patienceMs }),
    { announce: true },
  );
}

/**
 * `exec` with piped stdin (README, Standard input): the job is created at once and its stdin streamed while it runs;
 * when the job ends, stdin is no longer read. Past 64 MiB the job is cancelled and exec exits 2.
 */
async function runWithStdin(request: JobRequest, options: ExecOptions, session: Session, io: Io): Promise<ExitCode> {
  const what = options.ai
    ? options.ai.mode === 'review'
      ? '--review'
      : '--ai'
    : options.async
      ? '--async'
      : undefined;
  const input = io.stdin ?? process.stdin;
  if (what) {
    // An empty pipe (a script's, CI's) is end-of-file, as -n gives; only bytes that would be dropped are refused.
    await refuseUnsentStdin(input, `exec ${what}`);
    return runExec({ ...options, stdin: false }, session, io);
  }
  // A pipe that ends at once with nothing in it is -n: such jobs need nothing older agents and controllers lack.
  if ((await peekStdin(input)) === 'empty') return runExec({ ...options, stdin: false }, session, io);
  await checkControllerTakesStdin(session);
  const api = new ApiClient(session);
  const upload = new StdinUpload(input, (jobId) => api.cancelJob(jobId));
  let code: ExitCode;
  try {
    code = await follow(
      session,
      io,
      options.mode,
      (stream, opts) =>
        stream.create(
          { ...request, stdin: true },
          { ...opts, patienceMs: options.patienceMs, onCreated: (job, socket) => upload.start(job.id, socket) },
        ),
      { announce: true },
    );
  } finally {
    await upload.finish();
  }
  if (upload.failure) throw upload.failure;
  return code;
}

/**
 * Attaches to a job (exec, jobs wait) with the renderer of `mode`; returns the job's exit code. `announce` (exec): in
 * plain modes, `job ID: N runs on M agents` on stderr as soon as the job exists.
 */
export async function follow(
  session: Session,
  io: Io,
  mode: OutputMode,
  start: StartJob,
  { announce = false } = {},
): Promise<ExitCode> {
  if (mode === 'tui') return followLive(session, start);
  const renderer = rendererFor(mode, io, announce);
  const stream = new JobStream(session, renderer ?? { output() {}, runStatus() {} });
  const job = await start(stream, {});
  if (renderer) renderer.finished(job);
  else io.stdout.write(`${JSON.stringify(job, null, 2)}\n`);
  return jobExitCode(job);
}

/** `jobs wait ID` and `jobs show ID --follow`: attach to a job in the mode its flags ask for; exit code as `exec`. */
export function attachJob(
  session: Session,
  jobId: string,
  options: { json: boolean; stream: boolean; noTui: boolean; patienceMs: number; group?: boolean },
  io: Io = process,
): Promise<ExitCode> {
  const mode = outputMode({ json: options.json, stream: options.stream, noTui: options.noTui, group: options.group });
  return follow(session, io, mode, (stream, opts) => stream.follow(jobId, { ...opts, patienceMs: options.patienceMs }));
}

/** `jobs rerun ID`: a new job of the same request on the runs picked; output and exit code as `exec`. */
export async function rerunJob(
  session: Session,
  jobId: string,
  pick: RerunBody,
  options: { mode: OutputMode; async: boolean; patienceMs?: number },
  io: Io = process,
): Promise<ExitCode> {
  const job = await new ApiClient(session).rerunJob(jobId, pick);
  if (options.async) return printJobId(io, options.mode, job.id);
  return follow(
    session,
    io,
    options.mode,
    (stream, opts) => stream.follow(job.id, { ...opts, patienceMs: options.patienceMs }),
    { announce: true },
  );
}

/** `--async`: the new job's id on stdout (with `--json`: `{"id": …}`); exit 0 at once. */
function printJobId(io: Io, mode: OutputMode, id: string): ExitCode {
  io.stdout.write(mode === 'json' ? `${JSON.stringify({ id })}\n` : `${id}\n`);
  return EXIT.ok;
}

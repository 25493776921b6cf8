import { once } from 'node:events';
import type { Readable } from 'node:stream';
import type { Job } from '../domain/model.js';
import { UserError } from '../lib/errors.js';
import type { ApiClient } from './api.js';

/** Copies a stream with backpressure; returns its last byte (to know whether it ended with a newline). */
async function copy(from: Readable, to: NodeJS.WritableStream): Promise<string> {
  let last = '';
  for await (const chunk of from) {
    const buf = chunk as Buffer;
    if (buf.length) last = buf.toString('latin1', buf.length - 1);
    if (!to.write(buf)) await once(to, 'drain');
  }
  return last;
}

/**
 * Every byte of a job's output. With `agent`: that run's stdout and stderr, raw, to stdout and stderr.
 * Without: each run under a `==> NAME (status) <==` header, its stderr after a `--- stderr ---` line.
 */
export async function printLogs(
  api: ApiClient,
  job: Job,
  agent: string | undefined,
  out: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream },
): Promise<void> {
  const runs = agent ? job.runs.filter((r) => r.agent.name === agent) : job.runs;
  if (agent && !runs.length) {
    throw new UserError(`agent ${agent} has no run in job ${job.id}`, { code: 'ERR_NOT_FOUND', exit: 1 });
  }
  for (const run of runs) {
    if (agent) {
      await copy(await api.output(job.id, run.id, 'stdout'), out.stdout);
      await copy(await api.output(job.id, run.id, 'stderr'), out.stderr);
      continue;
    }
    out.stdout.write(
      `==> ${run.agent.name} (${run.status}${run.exitCode === null ? '' : `, exit ${run.exitCode}`}) <==\n`,
    );
    const lastOut = await copy(await api.output(job.id, run.id, 'stdout'), out.stdout);
    if (lastOut && lastOut !== '\n') out.stdout.write('\n');
    if ((run.stderrBytes ?? run.stderr.length) > 0) {
      out.stdout.write('--- stderr ---\n');
      const lastErr = await copy(await api.output(job.id, run.id, 'stderr'), out.stdout);
      if (lastErr && lastErr !== '\n') out.stdout.write('\n');
    }
  }
}

import { newId } from '../../src/domain/ids.js';
import type { Job, Run } from '../../src/domain/model.js';
import { summarize } from '../../src/domain/run-state.js';
import type { Store } from '../../src/controller/application/ports.js';

export const DAY_MS = 86_400_000;

/** A one-run job as the controller stores it, created at `at` (its id carries that time). */
export function storedJob(status: Run['status'], at = Date.now(), output = 'out'): Job {
  const id = newId('j', at);
  const done = status !== 'queued' && status !== 'running' && status !== 'dispatched';
  const runs: Run[] = [
    {
      id: `${id}_0`,
      agent: { id: 'id-a', name: 'a' },
      status,
      exitCode: status === 'succeeded' ? 0 : null,
      signal: null,
      stdout: output,
      stderr: '',
      stdoutBytes: Buffer.byteLength(output),
      seq: 1,
      startedAt: null,
      finishedAt: null,
      durationMs: null,
    },
  ];
  return {
    id,
    command: 'echo hi',
    executor: 'shell',
    target: ['a'],
    timeoutMs: 1000,
    status: done ? 'succeeded' : 'running',
    createdBy: 'admin',
    createdAt: new Date(at).toISOString(),
    finishedAt: done ? new Date(at).toISOString() : null,
    runs,
    summary: summarize(runs),
  };
}

/** Puts `count` jobs created `ageMs` ago (a millisecond apart), each with its output; resolves to their ids. */
export async function seedJobs(
  store: Store,
  count: number,
  ageMs: number,
  status: Run['status'] = 'succeeded',
  output = 'out',
  patch: (job: Job) => void = () => {},
): Promise<string[]> {
  const ids: string[] = [];
  const start = Date.now() - ageMs;
  for (let i = 0; i < count; i += 100) {
    const jobs = Array.from({ length: Math.min(100, count - i) }, (_, k) => storedJob(status, start + i + k, output));
    jobs.forEach(patch);
    await Promise.all(
      jobs.map(async (job) => {
        await store.jobs.put(job);
        await store.output.append(job.id, `${job.id}_0`, 'stdout', output);
      }),
    );
    ids.push(...jobs.map((j) => j.id));
  }
  return ids;
}

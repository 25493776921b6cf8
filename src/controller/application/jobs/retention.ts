import type { JobBook } from './job-book.js';

/** Retention: removes finished jobs past `retainJobs` / `retainDays`, with their output. Returns how many. */
export async function pruneJobs(book: JobBook, now = Date.now()): Promise<number> {
  const { retainJobs, retainDays } = book.options;
  if (retainJobs === undefined && retainDays === undefined) return 0;
  // Once for the whole cluster: the controller that holds the retention lease for this round.
  if (book.cluster && !(await book.cluster.lead('retention', 50_000))) return 0;
  const olderThan = retainDays === undefined ? undefined : new Date(now - retainDays * 86_400_000).toISOString();
  const expired = await book.jobs.listExpired({ keep: retainJobs, olderThan });
  for (const id of expired) {
    await book.jobs.remove(id);
    await book.output.removeJob(id);
    await book.stdin?.remove(id);
  }
  if (expired.length) book.log.info('old jobs removed', { count: expired.length });
  return expired.length;
}

import type { JobBook } from './job-book.js';

/** `controller serve` keeps finished jobs this many days unless told otherwise (`--retain-days 0`: all of them). */
export const DEFAULT_RETAIN_DAYS = 30;
/** Jobs removed per batch: between batches retention yields to the event loop, so requests never wait long on it. */
export const PRUNE_BATCH = 200;
const DAY_MS = 86_400_000;
/** How long the controller that removes old jobs holds the cluster's retention lease without renewing it. */
const LEASE_MS = 50_000;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Removes a job and everything of it: its output first, then its document. A controller stopped in between keeps a
 * job document whose output is gone (the next round removes it), never output that no job points to. Whatever else
 * is stored per job is removed here too, so that there is one place to add it.
 */
export async function removeJob(book: JobBook, id: string): Promise<void> {
  await book.output.removeJob(id);
  await book.stdin?.remove(id);
  await book.jobs.remove(id);
}

export interface PruneOptions {
  /** The time retention counts from (tests inject it). */
  now?: number;
  /** Jobs removed between two turns of the event loop. */
  batch?: number;
}

/**
 * Retention: removes finished jobs past `retainJobs` / `retainDays` (0: no age limit), with their output, in batches
 * of `batch` that yield to the event loop in between; stops between batches once the job service stops. Returns how
 * many it removed.
 */
export async function pruneJobs(book: JobBook, { now = Date.now(), batch = PRUNE_BATCH }: PruneOptions = {}) {
  const { retainJobs } = book.options;
  const retainDays = book.options.retainDays || undefined;
  if (retainJobs === undefined && retainDays === undefined) return 0;
  const olderThan = retainDays === undefined ? undefined : new Date(now - retainDays * DAY_MS).toISOString();
  let removed = 0;
  try {
    while (!book.stopped) {
      // Once for the whole cluster: the controller that holds the retention lease, renewed each batch.
      if (book.cluster && !(await book.cluster.lead('retention', LEASE_MS))) break;
      const expired = await book.jobs.listExpired({ keep: retainJobs, olderThan, limit: batch });
      for (const id of expired) await removeJob(book, id);
      removed += expired.length;
      if (expired.length < batch) break;
      await nextTurn();
    }
  } finally {
    // A controller that stops mid-round lets the next one (or its own restart) go on at once.
    await book.cluster?.letGo('retention').catch(() => {});
  }
  if (removed) book.log.info('old jobs removed', { count: removed });
  return removed;
}

/** Most ids a `jobs prune` answer lists; the count is always whole. */
export const PRUNE_IDS_LISTED = 1000;

export interface PruneBeforeOptions {
  /** ISO time: finished jobs created before it go. */
  before: string;
  /** Counts (and lists) what would go, removing nothing. */
  dryRun?: boolean;
  batch?: number;
}

export interface PruneBeforeResult {
  removed: number;
  /** The ids removed (or that would be), oldest first, when there are at most PRUNE_IDS_LISTED of them. */
  ids?: string[];
}

/**
 * `ogent jobs prune`: removes the finished jobs created before `before` (unfinished ones stay), with `removeJob`, in
 * batches that yield to the event loop, as retention does; a dry run walks the same jobs with a cursor instead.
 * Stops between batches once the job service stops (what is counted was removed).
 */
export async function pruneBefore(
  book: JobBook,
  { before, dryRun = false, batch = PRUNE_BATCH }: PruneBeforeOptions,
): Promise<PruneBeforeResult> {
  const ids: string[] = [];
  let removed = 0;
  let after: string | undefined;
  while (!book.stopped) {
    const picked = await book.jobs.listExpired({ olderThan: before, limit: batch, ...(dryRun ? { after } : {}) });
    if (!dryRun) for (const id of picked) await removeJob(book, id);
    removed += picked.length;
    if (ids.length <= PRUNE_IDS_LISTED) ids.push(...picked.slice(0, PRUNE_IDS_LISTED + 1 - ids.length));
    after = picked.at(-1);
    if (picked.length < batch) break;
    await nextTurn();
  }
  if (removed && !dryRun) book.log.info('jobs pruned', { count: removed, before });
  return ids.length <= PRUNE_IDS_LISTED ? { removed, ids } : { removed };
}

import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, rmdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** The lock is held by a live process: `pid`. */
export class LockBusyError extends Error {
  override name = 'LockBusyError';
  constructor(
    readonly path: string,
    readonly pid: number,
  ) {
    super(`${path} is held by pid ${pid}`);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Entries this process made and has not removed (held, or being tried). Another entry with this process's pid is
 * stale: an earlier process that had the same pid (PID 1 in a container, restarted after a kill -9).
 */
const ours = new Set<string>();

const pidOf = (entry: string) => Number(/^(\d+)-[0-9a-f]+$/.exec(entry)?.[1] ?? NaN);
const BACK_OFF_MS = [20, 80] as const;
const ATTEMPTS = 10;

/**
 * One process at a time, across processes: a directory in which each starter creates an entry of its own
 * (`PID-RANDOM`, exclusively), then lists it. It holds the lock when no other live entry is there; else it removes its
 * entry, pauses a random moment and looks again: an entry still there is a holder's (starters remove theirs before
 * they pause), so it gives up; else it tries again. Every holder saw no other entry after creating its own, so two
 * never hold it at once. An entry whose pid is dead is removed by its unique name, so a stale lock is taken over
 * without ever removing a fresh one.
 */
export class DirLock {
  private constructor(
    readonly path: string,
    private readonly entry: string,
  ) {}

  static async acquire(path: string): Promise<DirLock> {
    for (let attempt = 1; ; attempt++) {
      await takeOverLegacyFile(path);
      // Not recursive (its parent exists): a recursive mkdir on a read-only file system says ENOENT, not EROFS.
      await mkdir(path, { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
      const entry = `${process.pid}-${randomBytes(8).toString('hex')}`;
      ours.add(entry);
      try {
        await writeFile(join(path, entry), '', { flag: 'wx', mode: 0o600 });
      } catch (err) {
        ours.delete(entry);
        // The last holder removed the directory as this one created its entry: again.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' && attempt < ATTEMPTS) continue;
        throw err;
      }
      const holder = await liveEntry(path, entry);
      if (holder === undefined) return new DirLock(path, entry);
      await rm(join(path, entry), { force: true });
      ours.delete(entry);
      if (attempt >= ATTEMPTS) throw new LockBusyError(path, holder);
      const [min, max] = BACK_OFF_MS;
      await sleep(min + Math.random() * (max - min));
      const still = await liveEntry(path);
      if (still !== undefined) throw new LockBusyError(path, still);
    }
  }

  async release(): Promise<void> {
    await rm(join(this.path, this.entry), { force: true });
    ours.delete(this.entry);
    // Left empty, the directory goes too (another starter may just have created its entry: then it stays).
    await rmdir(this.path).catch(() => {});
  }
}

/** The pid of a live entry other than `mine`; entries of dead pids are removed on the way. */
async function liveEntry(path: string, mine?: string): Promise<number | undefined> {
  let entries: string[];
  try {
    entries = await readdir(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let live: number | undefined;
  for (const entry of entries) {
    if (entry === mine) continue;
    const pid = pidOf(entry);
    if (!(pid > 0)) continue;
    const stale = pid === process.pid ? !ours.has(entry) : !alive(pid);
    if (stale) await rm(join(path, entry), { force: true });
    else live ??= pid;
  }
  return live;
}

/** An earlier version's lock is a file holding a pid: a live one holds the lock, a dead one's file is removed. */
async function takeOverLegacyFile(path: string): Promise<void> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return; // none, or the directory
  }
  const pid = Number(text.trim());
  if (pid > 0 && pid !== process.pid && alive(pid)) throw new LockBusyError(path, pid);
  // Only ever a file: a starter that already made the directory in its place is never undone.
  await unlink(path).catch(() => {});
}

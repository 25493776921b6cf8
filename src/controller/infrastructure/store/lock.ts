import { constants } from 'node:fs';
import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { StartupError } from '../../../lib/errors.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** One controller process per data dir: a pid file created exclusively; a stale one (dead pid) is taken over. */
const heldHere = new Set<string>();

export class DataDirLock {
  private constructor(private readonly path: string) {}

  static async acquire(dataDir: string): Promise<DataDirLock> {
    const path = join(dataDir, 'controller.lock');
    if (heldHere.has(path)) {
      throw new StartupError(
        `data dir ${dataDir} is in use by another controller in this process: pass another --data-dir`,
      );
    }
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const handle = await open(path, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600);
        await handle.writeFile(`${process.pid}\n`);
        await handle.close();
        heldHere.add(path);
        return new DataDirLock(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
        if (pid > 0 && pid !== process.pid && alive(pid)) {
          throw new StartupError(
            `data dir ${dataDir} is in use by another controller (pid ${pid}): stop it, or pass another --data-dir`,
          );
        }
        await rm(path, { force: true });
      }
    }
    throw new StartupError(`could not lock data dir ${dataDir}: remove ${path} if no controller is running`);
  }

  async release(): Promise<void> {
    heldHere.delete(this.path);
    await rm(this.path, { force: true });
  }
}

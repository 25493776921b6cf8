import { join } from 'node:path';
import { DirLock, LockBusyError } from '../../../lib/dir-lock.js';
import { StartupError } from '../../../lib/errors.js';

/** One controller process per data dir (`DATA_DIR/controller.lock`); the lock of a controller that died is taken over. */
export class DataDirLock {
  private constructor(private readonly lock: DirLock) {}

  static async acquire(dataDir: string): Promise<DataDirLock> {
    try {
      return new DataDirLock(await DirLock.acquire(join(dataDir, 'controller.lock')));
    } catch (err) {
      if (!(err instanceof LockBusyError)) throw err;
      const who =
        err.pid === process.pid ? 'another controller in this process' : `another controller (pid ${err.pid})`;
      throw new StartupError(`data dir ${dataDir} is in use by ${who}: stop it, or pass another --data-dir`);
    }
  }

  release(): Promise<void> {
    return this.lock.release();
  }
}

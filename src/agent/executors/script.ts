import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnCommand, type RunAsUser } from '../../lib/process.js';
import { spawnOptions, type Executor } from './executor.js';
import { notStarted } from '../../lib/process.js';

/**
 * `script`: the content is written to a private file (0700, in a 0700 directory under $TMPDIR), run through its
 * shebang with the job's args, and removed once the process has exited, whether it finished, timed out or was cancelled.
 * With `--run-as`, both belong to that user.
 */
export const scriptExecutor = (runAs?: RunAsUser): Executor => ({
  refuse: (request) => {
    if (!request.script) return 'the script executor needs the script content';
    if (!request.script.startsWith('#!')) return 'the script must start with a shebang line (#!…)';
    return undefined;
  },
  start: (request) => {
    let dir: string | undefined;
    let file: string;
    try {
      // Synchronous: at most 64 KiB, and the file must be complete and closed before it is executed.
      dir = mkdtempSync(join(tmpdir(), 'ogent-script-'));
      file = join(dir, 'script');
      writeFileSync(file, request.script ?? '', { mode: 0o700 });
      chmodSync(file, 0o700);
      if (runAs) {
        chownSync(dir, runAs.uid, runAs.gid);
        chownSync(file, runAs.uid, runAs.gid);
      }
    } catch (err) {
      if (dir) rmSync(dir, { recursive: true, force: true });
      return notStarted(`cannot write the script to ${tmpdir()}: ${(err as Error).message}`);
    }
    const workDir = dir;
    const spawned = spawnCommand(file, request.args ?? [], spawnOptions(request, runAs));
    return {
      ...spawned,
      done: spawned.done.then(async (exit) => {
        await rm(workDir, { recursive: true, force: true }).catch(() => {});
        return exit;
      }),
    };
  },
});

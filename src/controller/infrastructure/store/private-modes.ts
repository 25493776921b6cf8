import { chmod, lstat, readdir, stat as statFollowing } from 'node:fs/promises';
import { join } from 'node:path';
import { StartupError } from '../../../lib/errors.js';

/** Everything in the data dir is the controller's alone: user and token hashes, job env, output, the signing key. */
export const PRIVATE_DIR = 0o700;
export const PRIVATE_FILE = 0o600;

/**
 * Gives every directory under `root` (itself included) mode 0700 and every file 0600, whatever they had: a data dir
 * made beforehand (0755) or written by an older version (0644 files) kept them readable by every local user. Symbolic
 * links are left alone (their targets are not the controller's). Returns what it changed, as `path 755→700`.
 */
export async function narrowModes(root: string): Promise<string[]> {
  const changed: string[] = [];
  const visit = async (rel: string): Promise<void> => {
    const path = rel === '.' ? root : join(root, rel);
    // The data dir itself may be a link the admin made; links inside it are not followed.
    const stat = rel === '.' ? await statFollowing(path) : await lstat(path);
    if (stat.isSymbolicLink()) return;
    const want = stat.isDirectory() ? PRIVATE_DIR : PRIVATE_FILE;
    const mode = stat.mode & 0o7777;
    if (mode !== want) {
      await chmod(path, want).catch((err: NodeJS.ErrnoException) => {
        throw new StartupError(
          `cannot make ${path} private (${err.code ?? err.message}): give it to the controller's user, or move it out of the data dir`,
        );
      });
      changed.push(`${rel} ${mode.toString(8)}→${want.toString(8)}`);
    }
    if (stat.isDirectory())
      await Promise.all((await readdir(path)).map((name) => visit(rel === '.' ? name : join(rel, name))));
  };
  await visit('.');
  return changed.sort();
}

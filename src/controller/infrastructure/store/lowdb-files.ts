import { constants } from 'node:fs';
import { chmod, open, readFile, stat } from 'node:fs/promises';
import { Low } from 'lowdb';
import { StartupError } from '../../../lib/errors.js';
import { privateJsonFile } from './private-file.js';

/** What to do about a store file that cannot be used (docs/architecture.md §6.1). */
export const RESTORE_HINT = 'restore a backup with `ogent controller restore`, or move it away; nothing was written';

/** Reads a lowdb file; a corrupt one stops start-up and is never overwritten. */
export async function load<T>(file: string, fallback: T, holds: (data: T) => boolean): Promise<Low<T>> {
  const db = new Low<T>(privateJsonFile<T>(file), fallback);
  try {
    await db.read();
  } catch (err) {
    throw new StartupError(`store file ${file} is unreadable or corrupt (${(err as Error).message}): ${RESTORE_HINT}`);
  }
  // lowdb keeps the fallback for a file holding `null`, `0` or `false`: that file is not ours to overwrite either.
  const unread = db.data === fallback && (await stat(file).catch(() => null)) !== null;
  if (unread || db.data === null || typeof db.data !== 'object' || !holds(db.data)) {
    throw new StartupError(`store file ${file} does not hold an ogent document: ${RESTORE_HINT}`);
  }
  return db;
}

const NOT_WRITABLE = new Set(['EROFS', 'EACCES', 'EPERM', 'ENOSPC', 'EDQUOT']);

/** A data dir the controller cannot write to stops it at start, with the reason. */
export function notWritable(dataDir: string, err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (!NOT_WRITABLE.has(code)) return err;
  const why =
    code === 'EROFS'
      ? 'read-only file system'
      : code === 'ENOSPC' || code === 'EDQUOT'
        ? 'disk full'
        : 'permission denied';
  return new StartupError(`data dir ${dataDir} is not writable (${code}: ${why}): fix it, or pass another --data-dir`);
}

/** The JWT signing secret: generated on first start, mode 0600. */
export async function loadSecret(path: string): Promise<Buffer> {
  try {
    const text = (await readFile(path, 'utf8')).trim();
    const secret = Buffer.from(text, 'base64');
    if (secret.length < 32) throw new StartupError(`secret file ${path} is too short: remove it to generate a new one`);
    return secret;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const { randomBytes } = await import('node:crypto');
  const secret = randomBytes(32);
  const handle = await open(path, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600);
  try {
    await handle.writeFile(`${secret.toString('base64')}\n`);
  } finally {
    await handle.close();
  }
  await chmod(path, 0o600);
  return secret;
}

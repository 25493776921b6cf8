import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { usageError } from '../../../lib/errors.js';
import { VERSION } from '../../../lib/version.js';
import { PRIVATE_DIR, PRIVATE_FILE } from './private-modes.js';

/**
 * A backup is a folder in the data dir's layout (docs/architecture.md §6.4), whichever store it came from, plus
 * `backup.json`, written last: a folder without it is not a whole backup.
 */
export const MANIFEST = 'backup.json';
export const JOB_FILE = /^(j[0-9a-z]+)\.json$/;

export interface BackupManifest {
  format: 'ogent-backup';
  /** The store's schema version when the backup was taken; restore migrates from it. */
  schema: number;
  createdAt: string;
  /** The ogent that took it. */
  writtenBy: string;
  /** `data dir /var/lib/ogent`, `redis redis://host:6379/0 (prefix ogent:)`. */
  source: string;
}

export async function writeManifest(dir: string, schema: number, source: string): Promise<BackupManifest> {
  const manifest: BackupManifest = {
    format: 'ogent-backup',
    schema,
    createdAt: new Date().toISOString(),
    writtenBy: VERSION,
    source,
  };
  await writeFile(join(dir, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`, { mode: PRIVATE_FILE });
  return manifest;
}

export async function readManifest(dir: string): Promise<BackupManifest> {
  const path = join(dir, MANIFEST);
  let manifest: Partial<BackupManifest> | null = null;
  try {
    manifest = JSON.parse(await readFile(path, 'utf8')) as Partial<BackupManifest> | null;
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'it has no backup.json' : (err as Error).message;
    throw usageError(
      `${dir} is not an ogent backup (${why})`,
      'pass a folder written by `ogent controller backup`, whole',
    );
  }
  if (manifest?.format !== 'ogent-backup' || !Number.isInteger(manifest.schema) || (manifest.schema ?? 0) < 1) {
    throw usageError(`${path} is not an ogent backup manifest`, 'pass a folder written by `ogent controller backup`');
  }
  return manifest as BackupManifest;
}

/**
 * Makes `dir` (0700) for writing into, refusing one that holds anything (exit 2): nothing is mixed with or written
 * over. Resolves to a function that removes what was written, for a failure half way.
 */
export async function emptyTarget(dir: string, what: string): Promise<() => Promise<void>> {
  let entries: string[] = [];
  let made = false;
  try {
    entries = await readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') throw usageError(`${what} ${dir} is not a directory`);
    if (code !== 'ENOENT') throw err;
    await mkdir(dir, { recursive: true, mode: PRIVATE_DIR });
    made = true;
  }
  if (entries.length) {
    throw usageError(`${what} ${dir} is not empty: nothing was written`, 'pass a new or empty directory');
  }
  return async () => {
    if (made) await rm(dir, { recursive: true, force: true });
    else for (const name of await readdir(dir)) await rm(join(dir, name), { recursive: true, force: true });
  };
}

/** A file of the layout, made private; its folder is made first. */
export async function writePrivate(dir: string, rel: string[], data: string | Buffer): Promise<void> {
  const path = join(dir, ...rel);
  if (rel.length > 1) await mkdir(join(dir, ...rel.slice(0, -1)), { recursive: true, mode: PRIVATE_DIR });
  await writeFile(path, data, { mode: PRIVATE_FILE });
}

/** A JSON document of the layout (the small files indented as the data dir keeps them). */
export const writeDoc = (dir: string, name: string, doc: unknown) =>
  writePrivate(dir, [name], `${JSON.stringify(doc, null, 2)}`);

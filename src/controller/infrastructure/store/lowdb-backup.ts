import { copyFile, cp, mkdir, readdir, readFile, rm, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { usageError } from '../../../lib/errors.js';
import { JOB_FILE } from './backup-layout.js';
import { UNFINISHED_FILE } from './lowdb-unfinished.js';
import { MIGRATION_COPIES, readSchemaFile, SCHEMA_FILE } from './lowdb-schema.js';
import { UNVERSIONED_SCHEMA } from './migrations.js';
import { narrowModes, PRIVATE_DIR } from './private-modes.js';

/** Not part of a store: the lock, the readiness probe, copies made by migrations; the schema is in backup.json. */
const NOT_COPIED = new Set([
  'controller.lock',
  '.ready-probe',
  MIGRATION_COPIES,
  SCHEMA_FILE,
  // Rebuilt from the job documents by the restored store's first start (a copy could miss a job started meanwhile).
  UNFINISHED_FILE,
  'jobs',
  'output',
  'audit.log',
]);
const isTemp = (name: string) => name.startsWith('.') && name.endsWith('.tmp');

const missing = (err: unknown) => (err as NodeJS.ErrnoException).code === 'ENOENT';
const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

export interface BackupCounts {
  schema: number;
  jobs: number;
  outputFiles: number;
}

/**
 * Copies a data dir, which a controller may be writing, to `dest` (docs/architecture.md §6.4). Each JSON file is
 * replaced by rename, so each copy is a whole version of it. Job documents are copied before the output, and output
 * is only ever appended to, so every job's output holds at least what its document counts (the restored controller
 * cuts a running job's output back to that). A job removed meanwhile (retention) is left out whole.
 */
export async function backupDataDir(dataDir: string, dest: string): Promise<BackupCounts> {
  if (!(await exists(join(dataDir, 'users.json'))) && !(await exists(join(dataDir, 'secret.key')))) {
    throw usageError(`there is no ogent store in ${dataDir}`, 'pass the --data-dir the controller uses');
  }
  const schema = (await readSchemaFile(dataDir)) ?? UNVERSIONED_SCHEMA;
  for (const name of await readdir(dataDir)) {
    if (NOT_COPIED.has(name) || isTemp(name)) continue;
    await cp(join(dataDir, name), join(dest, name), {
      recursive: true,
      filter: (src) => !isTemp(src.slice(src.lastIndexOf('/') + 1)),
    }).catch((err: unknown) => {
      if (!missing(err)) throw err;
    });
  }
  const jobs = await copyJobs(dataDir, dest);
  let outputFiles = 0;
  for (const id of jobs) {
    outputFiles += await copyOutput(dataDir, dest, id);
    if (!(await exists(join(dataDir, 'jobs', `${id}.json`)))) {
      await rm(join(dest, 'jobs', `${id}.json`), { force: true });
      await rm(join(dest, 'output', id), { recursive: true, force: true });
    }
  }
  await copyAudit(join(dataDir, 'audit.log'), join(dest, 'audit.log'));
  // Copies keep their files' modes; a store of the first release had 0644 ones.
  await narrowModes(dest);
  return { schema, jobs: (await readdir(join(dest, 'jobs'))).length, outputFiles };
}

async function copyJobs(dataDir: string, dest: string): Promise<string[]> {
  await mkdir(join(dest, 'jobs'), { recursive: true, mode: PRIVATE_DIR });
  const names = (await readdir(join(dataDir, 'jobs')).catch(() => [] as string[])).filter((n) => JOB_FILE.test(n));
  const copied: string[] = [];
  for (const name of names.sort()) {
    try {
      await copyFile(join(dataDir, 'jobs', name), join(dest, 'jobs', name));
      copied.push(name.replace(/\.json$/, ''));
    } catch (err) {
      if (!missing(err)) throw err;
    }
  }
  return copied;
}

async function copyOutput(dataDir: string, dest: string, id: string): Promise<number> {
  const from = join(dataDir, 'output', id);
  const names = await readdir(from).catch(() => [] as string[]);
  if (!names.length) return 0;
  await mkdir(join(dest, 'output', id), { recursive: true, mode: PRIVATE_DIR });
  let copied = 0;
  for (const name of names) {
    try {
      await copyFile(join(from, name), join(dest, 'output', id, name));
      copied++;
    } catch (err) {
      if (!missing(err)) throw err;
    }
  }
  return copied;
}

/** The audit log up to its last whole line (an entry being appended is left for the next backup). */
async function copyAudit(from: string, to: string): Promise<void> {
  try {
    await copyFile(from, to);
  } catch (err) {
    if (missing(err)) return;
    throw err;
  }
  const text = await readFile(to);
  const end = text.lastIndexOf(0x0a) + 1;
  if (end < text.length) await truncate(to, end);
}

import { copyFile, mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Low } from 'lowdb';
import type { Agent, User } from '../../../domain/model.js';
import { StartupError } from '../../../lib/errors.js';
import { VERSION } from '../../../lib/version.js';
import type { EnrollmentToken } from '../../application/ports.js';
import { RESTORE_HINT } from './lowdb-files.js';
import { scanUnfinished, UnfinishedIndex } from './lowdb-unfinished.js';
import type { Collection, StoreDocuments } from './migrations.js';
import { privateJsonFile } from './private-file.js';
import { PRIVATE_DIR } from './private-modes.js';
import { copyName, type VersionedStore } from './schema-upgrade.js';

/** The data dir's schema version, `{"schema": N, "writtenBy": "0.2.0"}` (docs/architecture.md §6.4). */
export const SCHEMA_FILE = 'schema.json';
/** Copies kept by migrations, one folder each (`schema-1-<time>`). */
export const MIGRATION_COPIES = 'backups';
export const COLLECTION_FILES: Record<Collection, string> = {
  users: 'users.json',
  agents: 'agents.json',
  enrollments: 'enrollments.json',
};
/** A data dir holding one of these holds a store; without a schema file it is the first release's. */
const STORE_FILES = ['users.json', 'agents.json', 'enrollments.json', 'jobs', 'secret.key', 'audit.log'];

export interface LowDocuments {
  users: Low<{ users: User[] }>;
  agents: Low<{ agents: Agent[] }>;
  enrollments: Low<{ enrollments: EnrollmentToken[] }>;
}

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

/** The version a schema file records, or undefined when there is none. */
export async function readSchemaFile(dataDir: string): Promise<number | undefined> {
  const path = join(dataDir, SCHEMA_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StartupError(`store file ${path} is unreadable (${(err as Error).message}): ${RESTORE_HINT}`);
  }
  let schema: unknown;
  try {
    schema = (JSON.parse(text) as { schema?: unknown } | null)?.schema;
  } catch {
    schema = undefined;
  }
  if (typeof schema !== 'number' || !Number.isInteger(schema) || schema < 1) {
    throw new StartupError(`store file ${path} does not hold a schema version: ${RESTORE_HINT}`);
  }
  return schema;
}

export const writeSchemaFile = (dataDir: string, schema: number) =>
  privateJsonFile<{ schema: number; writtenBy: string }>(join(dataDir, SCHEMA_FILE)).write({
    schema,
    writtenBy: VERSION,
  });

/**
 * The data dir as a versioned store. `loaded.docs` are its documents once loaded: the version is checked before
 * anything is loaded or changed, and only `read` and `write` need them.
 */
export function versionedDataDir(dataDir: string, loaded: { docs?: LowDocuments }): VersionedStore {
  const docs = () => {
    if (!loaded.docs) throw new Error('the store documents are not loaded yet');
    return loaded.docs;
  };
  return {
    where: `the store in ${dataDir}`,
    readVersion: () => readSchemaFile(dataDir),
    async holdsData() {
      for (const name of STORE_FILES) if (await exists(join(dataDir, name))) return true;
      return false;
    },
    async read(): Promise<StoreDocuments> {
      const { users, agents, enrollments } = docs();
      return { users: users.data.users, agents: agents.data.agents, enrollments: enrollments.data.enrollments };
    },
    async keepCopy(collections, from) {
      const dir = join(dataDir, MIGRATION_COPIES, copyName(from));
      await mkdir(dir, { recursive: true, mode: PRIVATE_DIR });
      for (const name of [...collections.map((c) => COLLECTION_FILES[c]), SCHEMA_FILE]) {
        if (await exists(join(dataDir, name))) await copyFile(join(dataDir, name), join(dir, name));
      }
      return dir;
    },
    async write(migrated, collections) {
      const { users, agents, enrollments } = docs();
      for (const collection of collections) {
        if (collection === 'users') users.data.users = migrated.users;
        if (collection === 'agents') agents.data.agents = migrated.agents;
        if (collection === 'enrollments') enrollments.data.enrollments = migrated.enrollments;
        await { users, agents, enrollments }[collection].write();
      }
    },
    writeVersion: (schema) => writeSchemaFile(dataDir, schema),
    async build(index) {
      if (index === 'unfinished-jobs') {
        const unfinished = new UnfinishedIndex(dataDir);
        await unfinished.replace(await scanUnfinished(join(dataDir, 'jobs')));
      }
    },
  };
}

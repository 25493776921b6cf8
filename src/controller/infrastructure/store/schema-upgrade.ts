import { StartupError } from '../../../lib/errors.js';
import type { Logger } from '../../../lib/log.js';
import { VERSION } from '../../../lib/version.js';
import {
  builtBy,
  changedBy,
  migrate,
  migrationPlan,
  NewerStoreError,
  newerStoreMessage,
  STORE_SCHEMA,
  UNVERSIONED_SCHEMA,
  type Collection,
  type StoreDocuments,
  type StoreIndex,
} from './migrations.js';

/** A store whose schema version can be read and upgraded (docs/architecture.md §6.4): the data dir, or a Redis prefix. */
export interface VersionedStore {
  /** For messages: `the store in /var/lib/ogent`. */
  readonly where: string;
  /** The recorded version, or undefined when none is. */
  readVersion(): Promise<number | undefined>;
  /** Whether it holds anything (a store with data and no version is the first release's). */
  holdsData(): Promise<boolean>;
  read(): Promise<StoreDocuments>;
  /** Keeps a copy of what `collections` are stored in; says where. */
  keepCopy(collections: Collection[], from: number): Promise<string>;
  write(docs: StoreDocuments, collections: Collection[]): Promise<void>;
  writeVersion(version: number): Promise<void>;
  /** Builds an index from the job documents (a migration's `builds`), replacing any. */
  build(index: StoreIndex): Promise<void>;
}

export interface FoundVersion {
  version: number;
  /** False for the first release's stores and for new ones. */
  recorded: boolean;
}

/**
 * The store's schema version; a store of a later release stops start-up (StartupError) before anything is written.
 * A new store counts as this release's.
 */
export async function foundVersion(store: VersionedStore): Promise<FoundVersion> {
  const recorded = await store.readVersion();
  if (recorded === undefined) {
    return { version: (await store.holdsData()) ? UNVERSIONED_SCHEMA : STORE_SCHEMA, recorded: false };
  }
  try {
    migrationPlan(recorded);
  } catch (err) {
    if (err instanceof NewerStoreError) throw new StartupError(newerStoreMessage(store.where, recorded, VERSION));
    throw err;
  }
  return { version: recorded, recorded: true };
}

/**
 * Runs the migrations from `found` to this release's schema: a copy of what they change first, then the rewrite,
 * then the new version (last, so a stop in between runs the idempotent migrations again). Resolves to the copy's
 * place, when one was made.
 */
export async function upgradeStore(
  store: VersionedStore,
  found: FoundVersion,
  log?: Logger,
): Promise<string | undefined> {
  const plan = migrationPlan(found.version);
  let copy: string | undefined;
  if (plan.length) {
    const changes = changedBy(plan);
    copy = await store.keepCopy(changes, found.version);
    await store.write(migrate(await store.read(), plan), changes);
    for (const index of builtBy(plan)) await store.build(index);
    log?.info('store migrated', {
      store: store.where,
      from: found.version,
      to: STORE_SCHEMA,
      steps: plan.map((m) => `${m.from}→${m.to}: ${m.describe}`),
      copy,
    });
  }
  if (plan.length || !found.recorded) await store.writeVersion(STORE_SCHEMA);
  return copy;
}

/** A copy's name: `schema-1-20260101T120000.123Z`. */
export const copyName = (schema: number, now = new Date()) =>
  `schema-${schema}-${now.toISOString().replace(/[-:]/g, '')}`;

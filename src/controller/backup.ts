import { cp } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Redis } from 'ioredis';
import { StartupError, usageError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { VERSION } from '../lib/version.js';
import {
  emptyTarget,
  MANIFEST,
  readManifest,
  writeManifest,
  type BackupManifest,
} from './infrastructure/store/backup-layout.js';
import { backupDataDir, type BackupCounts } from './infrastructure/store/lowdb-backup.js';
import { versionedDataDir, writeSchemaFile } from './infrastructure/store/lowdb-schema.js';
import { openLowdbStore } from './infrastructure/store/lowdb-store.js';
import { newerStoreMessage, STORE_SCHEMA } from './infrastructure/store/migrations.js';
import { foundVersion } from './infrastructure/store/schema-upgrade.js';

/**
 * `ogent controller backup` and `restore` (docs/architecture.md §6.4): a store, the data dir or a Redis prefix, to a
 * folder in the data dir's layout and back. Redis modules are loaded only for `--redis`.
 */
export interface StoreLocation {
  dataDir: string;
  redis?: string;
  redisPrefix?: string;
}

export type BackupResult = BackupCounts & { dir: string; source: string };

export async function backupStore(from: StoreLocation, dir: string): Promise<BackupResult> {
  const cleanup = await emptyTarget(dir, 'backup dir');
  try {
    let counts: BackupCounts;
    let source: string;
    if (from.redis) {
      const { backupRedis } = await import('./infrastructure/store/redis-backup.js');
      const { versionedRedis } = await import('./infrastructure/store/redis-schema.js');
      ({ counts, source } = await withRedis(from, async (redis, prefix, where) => {
        await foundVersion(versionedRedis(redis, prefix, where));
        return { counts: await backupRedis(redis, prefix, dir), source: where };
      }));
    } else {
      await foundVersion(versionedDataDir(from.dataDir, {}));
      counts = await backupDataDir(from.dataDir, dir);
      source = `the store in ${resolve(from.dataDir)}`;
    }
    await writeManifest(dir, counts.schema, source);
    return { ...counts, dir, source };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

export interface RestoreResult {
  manifest: BackupManifest;
  target: string;
}

/** Loads a backup into a new data dir or an empty Redis prefix, then migrates it as a start would. */
export async function restoreStore(dir: string, to: StoreLocation, log?: Logger): Promise<RestoreResult> {
  const manifest = await readManifest(dir);
  if (manifest.schema > STORE_SCHEMA) {
    throw new StartupError(newerStoreMessage(`the backup in ${dir}`, manifest.schema, VERSION));
  }
  if (to.redis) return { manifest, target: await restoreToRedis(dir, manifest, to, log) };
  const cleanup = await emptyTarget(to.dataDir, 'data dir');
  try {
    await cp(dir, to.dataDir, { recursive: true, filter: (src) => src !== join(dir, MANIFEST) });
    await writeSchemaFile(to.dataDir, manifest.schema);
    // Opening it runs the migrations and checks every file, as `controller serve` would.
    const store = await openLowdbStore(to.dataDir, log);
    await store.close();
  } catch (err) {
    await cleanup();
    throw err;
  }
  return { manifest, target: `the store in ${resolve(to.dataDir)}` };
}

async function restoreToRedis(dir: string, manifest: BackupManifest, to: StoreLocation, log?: Logger) {
  const { clearPrefix, loadIntoRedis, prefixIsEmpty } = await import('./infrastructure/store/redis-backup.js');
  const { upgradeRedis } = await import('./infrastructure/store/redis-schema.js');
  return withRedis(to, async (redis, prefix, where) => {
    if (!(await prefixIsEmpty(redis, prefix))) {
      throw usageError(
        `${where} is not empty: nothing was written`,
        'restore into an empty Redis database (redis://HOST:PORT/N)',
      );
    }
    try {
      await loadIntoRedis(dir, redis, prefix);
      await redis.set(`${prefix}schema`, String(manifest.schema));
      await upgradeRedis(redis, prefix, where, log);
    } catch (err) {
      await clearPrefix(redis, prefix);
      throw err;
    }
    return where;
  });
}

async function withRedis<T>(
  at: StoreLocation,
  use: (redis: Redis, prefix: string, where: string) => Promise<T>,
): Promise<T> {
  const { closeClient, connectRedis, DEFAULT_PREFIX, redisWhere } =
    await import('./infrastructure/store/redis-store.js');
  const url = at.redis as string;
  const prefix = at.redisPrefix ?? DEFAULT_PREFIX;
  const redis = await connectRedis(url);
  try {
    return await use(redis, prefix, redisWhere(url, prefix));
  } finally {
    await closeClient(redis);
  }
}

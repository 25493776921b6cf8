import type { Redis } from 'ioredis';
import type { Agent, Job, User } from '../../../domain/model.js';
import { isTerminal } from '../../../domain/run-state.js';
import { StartupError } from '../../../lib/errors.js';
import type { EnrollmentToken } from '../../application/ports.js';
import { STORE_SCHEMA, type Collection, type StoreDocuments } from './migrations.js';
import { failed } from './redis-json.js';
import { copyName, foundVersion, upgradeStore, type VersionedStore } from './schema-upgrade.js';
import type { Logger } from '../../../lib/log.js';

/** The keys (under the prefix) each collection is stored in: its hash, and its index. */
const COLLECTION_KEYS: Record<Collection, [string, string]> = {
  users: ['users', 'users'],
  agents: ['agents', 'agents:byname'],
  enrollments: ['enroll', 'enroll:byhash'],
};
/** A Redis with one of these under the prefix holds a store; without `schema` it is the first release's. */
const STORE_KEYS = ['secret', 'users', 'agents', 'jobs', 'enroll', 'audit'];
/** Held while one controller migrates; the others wait for it (the migration takes milliseconds, not minutes). */
const MIGRATION_LEASE_MS = 60_000;

const hashOf = <T>(items: T[], key: (item: T) => string) =>
  Object.fromEntries(items.map((item) => [key(item), JSON.stringify(item)]));

/**
 * A Redis prefix as a versioned store (docs/architecture.md §6.4): the version in `<prefix>schema`, copies of what a
 * migration changes under `<prefix>backup:schema-N-<time>:<key>` (DUMP and RESTORE, so any Redis version does).
 */
export function versionedRedis(redis: Redis, prefix: string, where: string): VersionedStore {
  const key = (name: string) => `${prefix}${name}`;
  const values = async <T>(name: string) => (await redis.hvals(key(name))).map((v) => JSON.parse(v) as T);
  return {
    where,
    async readVersion() {
      const text = await redis.get(key('schema'));
      if (text === null) return undefined;
      const schema = Number(text);
      if (!Number.isInteger(schema) || schema < 1) {
        throw new StartupError(`Redis key ${key('schema')} does not hold a schema version ("${text.slice(0, 20)}")`);
      }
      return schema;
    },
    async holdsData() {
      return (await redis.exists(...STORE_KEYS.map(key))) > 0;
    },
    async read(): Promise<StoreDocuments> {
      return {
        users: await values<User>('users'),
        agents: await values<Agent>('agents'),
        enrollments: await values<EnrollmentToken>('enroll'),
      };
    },
    async keepCopy(collections, from) {
      const copy = key(`backup:${copyName(from)}:`);
      for (const name of new Set(collections.flatMap((c) => COLLECTION_KEYS[c]))) {
        const dumped = await redis.dumpBuffer(key(name));
        if (dumped) await redis.restore(`${copy}${name}`, 0, dumped, 'REPLACE');
      }
      return `${copy}*`;
    },
    async write(docs, collections) {
      for (const collection of collections) {
        const [hash, index] = COLLECTION_KEYS[collection];
        const tx = redis.multi().del(key(hash), key(index));
        if (collection === 'users' && docs.users.length)
          tx.hset(
            key(hash),
            hashOf(docs.users, (u) => u.name),
          );
        if (collection === 'agents' && docs.agents.length) {
          tx.hset(
            key(hash),
            hashOf(docs.agents, (a) => a.id),
          );
          tx.hset(key(index), Object.fromEntries(docs.agents.map((a) => [a.name, a.id])));
        }
        if (collection === 'enrollments' && docs.enrollments.length) {
          tx.hset(
            key(hash),
            hashOf(docs.enrollments, (t) => t.id),
          );
          tx.hset(key(index), Object.fromEntries(docs.enrollments.map((t) => [t.hash, t.id])));
        }
        await tx.exec().then(failed);
      }
    },
    async writeVersion(schema) {
      await redis.set(key('schema'), String(schema));
    },
    async build(index) {
      if (index === 'unfinished-jobs') await rebuildRunning(redis, prefix);
    },
  };
}

/** `<prefix>jobs:running` from the job documents, read a page at a time. */
async function rebuildRunning(redis: Redis, prefix: string): Promise<void> {
  const unfinished: string[] = [];
  const total = await redis.zcard(`${prefix}jobs`);
  for (let start = 0; start < total; start += 500) {
    const ids = await redis.zrange(`${prefix}jobs`, start, start + 499);
    if (!ids.length) break;
    const docs = await redis.mget(ids.map((id) => `${prefix}job:${id}`));
    docs.forEach((doc, i) => {
      const job = doc === null ? undefined : (JSON.parse(doc) as Job);
      if (job && !job.runs.every((r) => isTerminal(r.status))) unfinished.push(ids[i] as string);
    });
  }
  const tx = redis.multi().del(`${prefix}jobs:running`);
  if (unfinished.length) tx.sadd(`${prefix}jobs:running`, ...unfinished);
  await tx.exec().then(failed);
}

/**
 * Checks and upgrades the store under `prefix`; one controller of a cluster migrates while the others wait for its
 * lease. Throws StartupError for a store of a later release, having written nothing.
 */
export async function upgradeRedis(redis: Redis, prefix: string, where: string, log?: Logger): Promise<void> {
  const store = versionedRedis(redis, prefix, where);
  const lease = `${prefix}schema:migrating`;
  const holder = `${process.pid}-${Date.now()}`;
  for (;;) {
    const found = await foundVersion(store);
    if (found.recorded && found.version === STORE_SCHEMA) return;
    if ((await redis.set(lease, holder, 'PX', MIGRATION_LEASE_MS, 'NX')) === 'OK') {
      try {
        // Read again under the lease: another controller may have migrated meanwhile.
        await upgradeStore(store, await foundVersion(store), log);
      } finally {
        if ((await redis.get(lease)) === holder) await redis.del(lease);
      }
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

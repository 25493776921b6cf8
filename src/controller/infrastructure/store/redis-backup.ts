import { mkdir, open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { Agent, Job, User } from '../../../domain/model.js';
import { isTerminal } from '../../../domain/run-state.js';
import type { EnrollmentToken } from '../../application/ports.js';
import { JOB_FILE, writeDoc, writePrivate } from './backup-layout.js';
import type { BackupCounts } from './lowdb-backup.js';
import { UNVERSIONED_SCHEMA } from './migrations.js';
import { PRIVATE_DIR } from './private-modes.js';
import { failed } from './redis-json.js';

const BATCH = 200;
const CHUNK = 1024 * 1024;
const SESSION = 'revoked-session:';
const OUTPUT_KEY = /^out:(j[0-9a-z]+):([^:]+):(stdout|stderr)$/;

/** Keys under `prefix` matching `pattern` (SCAN: never blocks Redis as KEYS would). */
async function scan(redis: Redis, pattern: string, first = false): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    keys.push(...found);
    cursor = next;
  } while (cursor !== '0' && !(first && keys.length));
  return keys;
}

export const prefixIsEmpty = async (redis: Redis, prefix: string) =>
  (await scan(redis, `${prefix}*`, true)).length === 0;

/** Removes every key under `prefix` (a restore that failed half way into a prefix that was empty). */
export async function clearPrefix(redis: Redis, prefix: string): Promise<void> {
  const keys = await scan(redis, `${prefix}*`);
  for (let i = 0; i < keys.length; i += BATCH) await redis.del(...keys.slice(i, i + BATCH));
}

/**
 * Writes the store under `prefix` to `dest` in the data dir's layout (docs/architecture.md §6.4). Job documents are
 * read before their output (append-only), so every job's output holds at least what its document counts; a job
 * removed meanwhile is left out. Leases, presence and login counters are not kept: they are rebuilt at start.
 */
export async function backupRedis(redis: Redis, prefix: string, dest: string): Promise<BackupCounts> {
  const key = (name: string) => `${prefix}${name}`;
  const schemaText = await redis.get(key('schema'));
  const schema = schemaText === null ? UNVERSIONED_SCHEMA : Number(schemaText);
  const values = async <T>(name: string) => (await redis.hvals(key(name))).map((v) => JSON.parse(v) as T);
  const byName = <T extends { name: string }>(items: T[]) => items.sort((a, b) => a.name.localeCompare(b.name));
  await writeDoc(dest, 'users.json', { users: byName(await values<User>('users')) });
  await writeDoc(dest, 'agents.json', { agents: byName(await values<Agent>('agents')) });
  await writeDoc(dest, 'enrollments.json', { enrollments: await values<EnrollmentToken>('enroll') });
  const revoked: Record<string, number> = {};
  for (const sessionKey of await scan(redis, `${key(SESSION)}*`)) {
    const ttl = await redis.pttl(sessionKey);
    if (ttl > 0) revoked[sessionKey.slice(key(SESSION).length)] = Date.now() + ttl;
  }
  await writeDoc(dest, 'sessions.json', { revoked });
  const secret = await redis.get(key('secret'));
  if (secret !== null) await writePrivate(dest, ['secret.key'], `${secret}\n`);

  const ids = await redis.zrange(key('jobs'), 0, -1);
  let jobs = 0;
  let outputFiles = 0;
  await mkdir(join(dest, 'jobs'), { recursive: true, mode: PRIVATE_DIR });
  for (let i = 0; i < ids.length; i += BATCH) {
    const batch = ids.slice(i, i + BATCH);
    const docs = await redis.mget(batch.map((id) => key(`job:${id}`)));
    for (const [n, doc] of docs.entries()) {
      if (doc === null || doc === undefined) continue;
      const id = batch[n] as string;
      await writePrivate(dest, ['jobs', `${id}.json`], doc);
      jobs++;
      for (const outKey of await redis.smembers(key(`out:${id}`))) {
        const match = OUTPUT_KEY.exec(outKey.slice(prefix.length));
        if (!match) continue;
        await copyOutputKey(redis, outKey, join(dest, 'output', id), `${match[2]}.${match[3]}`);
        outputFiles++;
      }
    }
  }
  const audit = await redis.llen(key('audit'));
  const lines: string[] = [];
  for (let at = 0; at < audit; at += 1000) lines.push(...(await redis.lrange(key('audit'), at, at + 999)));
  await writePrivate(dest, ['audit.log'], lines.map((l) => `${l}\n`).join(''));
  return { schema, jobs, outputFiles };
}

async function copyOutputKey(redis: Redis, outKey: string, dir: string, name: string): Promise<void> {
  const size = await redis.strlen(outKey);
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR });
  await writePrivate(dir, [name], '');
  const file = await open(join(dir, name), 'a');
  try {
    for (let at = 0; at < size; at += CHUNK) {
      await file.write(await redis.getrangeBuffer(outKey, at, Math.min(size, at + CHUNK) - 1));
    }
  } finally {
    await file.close();
  }
}

const readDoc = async <T>(dir: string, name: string, fallback: T): Promise<T> => {
  try {
    return JSON.parse(await readFile(join(dir, name), 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return fallback;
    throw new Error(`${join(dir, name)} cannot be read (${(err as Error).message})`);
  }
};

/**
 * Loads a store in the data dir's layout (a backup, a data dir) into Redis under `prefix`, as the Redis store keeps
 * it (docs/architecture.md §6.2). Writes no schema version: the caller records the one it knows.
 */
export async function loadIntoRedis(src: string, redis: Redis, prefix: string): Promise<Omit<BackupCounts, 'schema'>> {
  const key = (name: string) => `${prefix}${name}`;
  const { users } = await readDoc(src, 'users.json', { users: [] as User[] });
  const { agents } = await readDoc(src, 'agents.json', { agents: [] as Agent[] });
  const { enrollments } = await readDoc(src, 'enrollments.json', { enrollments: [] as EnrollmentToken[] });
  const { revoked } = await readDoc(src, 'sessions.json', { revoked: {} as Record<string, number> });
  const tx = redis.multi();
  for (const u of users) tx.hset(key('users'), u.name, JSON.stringify(u));
  for (const a of agents) tx.hset(key('agents'), a.id, JSON.stringify(a)).hset(key('agents:byname'), a.name, a.id);
  for (const t of enrollments) tx.hset(key('enroll'), t.id, JSON.stringify(t)).hset(key('enroll:byhash'), t.hash, t.id);
  for (const [sid, until] of Object.entries(revoked)) {
    if (until > Date.now()) tx.set(key(`${SESSION}${sid}`), '1', 'PX', until - Date.now());
  }
  const secret = await readFile(join(src, 'secret.key'), 'utf8').catch(() => null);
  if (secret !== null) tx.set(key('secret'), secret.trim());
  await tx.exec().then(failed);

  const names = (await readdir(join(src, 'jobs')).catch(() => [] as string[])).filter((n) => JOB_FILE.test(n));
  let outputFiles = 0;
  for (const name of names.sort()) {
    const text = await readFile(join(src, 'jobs', name), 'utf8');
    const job = JSON.parse(text) as Job;
    const done = job.runs.every((r) => isTerminal(r.status));
    const write = redis
      .multi()
      .set(key(`job:${job.id}`), text)
      .zadd(key('jobs'), 0, job.id);
    if (!done) write.sadd(key('jobs:running'), job.id);
    await write.exec().then(failed);
    for (const file of await readdir(join(src, 'output', job.id)).catch(() => [] as string[])) {
      const match = /^(.+)\.(stdout|stderr)$/.exec(file);
      if (!match) continue;
      const outKey = key(`out:${job.id}:${match[1]}:${match[2]}`);
      const handle = await open(join(src, 'output', job.id, file), 'r');
      try {
        for await (const chunk of handle.createReadStream({ highWaterMark: CHUNK, autoClose: false })) {
          await redis.append(outKey, chunk as Buffer);
        }
      } finally {
        await handle.close();
      }
      await redis.sadd(key(`out:${job.id}`), outKey);
      outputFiles++;
    }
  }
  const audit = (await readFile(join(src, 'audit.log'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
  for (let i = 0; i < audit.length; i += 1000) await redis.rpush(key('audit'), ...audit.slice(i, i + 1000));
  return { jobs: names.length, outputFiles };
}

import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { StartupError } from '../../../lib/errors.js';
import type { Store } from '../../application/ports.js';
import { RedisAgents } from './redis-agents.js';
import { RedisAuditLog } from './redis-audit.js';
import { RedisEnrollments } from './redis-enrollments.js';
import { RedisJobs } from './redis-jobs.js';
import { RedisOutput } from './redis-output.js';
import { RedisRevokedSessions } from './redis-sessions.js';
import { RedisUsers } from './redis-users.js';
import { upgradeRedis } from './redis-schema.js';
import type { Logger } from '../../../lib/log.js';

/**
 * The scale-out store (docs/architecture.md §6.2): the same repositories as the lowdb store, in one Redis shared by every
 * controller. Keys start with `prefix` (default `ogent:`), so several installations can share a Redis database.
 */
export const DEFAULT_PREFIX = 'ogent:';

export interface RedisStoreOptions {
  prefix?: string;
  /** Told when the store is migrated. */
  log?: Logger;
}

export type RedisStore = Store & {
  secret: Buffer;
  /** The connection, shared with the cluster coordination (leases, presence). */
  redis: Redis;
  prefix: string;
  url: string;
  /** Resolves when Redis answers a PING, else throws saying why (readiness). */
  ping(): Promise<void>;
};

/** A redis:// URL with any password hidden, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(invalid URL)';
  }
}

/** Says goodbye when connected; while Redis is away, just drops the connection (QUIT would wait for it). */
export async function closeClient(client: Redis): Promise<void> {
  if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
  else client.disconnect();
}

/** A client that fails commands at once while Redis is away (no offline queue) and reconnects forever. */
export function redisClient(url: string): Redis {
  return new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 5000,
    retryStrategy: (times) => Math.min(200 * times, 2000),
  });
}

/** A connected client (StartupError when the URL is not redis:// or Redis does not answer). */
export async function connectRedis(url: string): Promise<Redis> {
  if (!/^rediss?:\/\//.test(url)) {
    throw new StartupError(`invalid --redis URL "${redactUrl(url)}": use redis://[:password@]host:port[/db]`);
  }
  const redis = redisClient(url);
  // Logged by the caller through health checks; without a listener ioredis prints every failed attempt.
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    throw new StartupError(
      `cannot reach Redis at ${redactUrl(url)} (${(err as Error).message}): start it, or fix --redis`,
    );
  }
  return redis;
}

/** For messages: where a Redis store is. */
export const redisWhere = (url: string, prefix: string) => `the store in Redis ${redactUrl(url)} (prefix ${prefix})`;

export async function openRedisStore(url: string, options: RedisStoreOptions = {}): Promise<RedisStore> {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const redis = await connectRedis(url);
  await upgradeRedis(redis, prefix, redisWhere(url, prefix), options.log).catch((err) => {
    redis.disconnect();
    throw err;
  });
  // Every controller signs and checks tokens with the same secret: the first one to start makes it.
  await redis.set(`${prefix}secret`, randomBytes(32).toString('base64'), 'NX');
  const secret = Buffer.from((await redis.get(`${prefix}secret`)) ?? '', 'base64');
  if (secret.length < 32) throw new StartupError(`Redis key ${prefix}secret is too short: delete it to make a new one`);
  const jobs = new RedisJobs(redis, prefix);
  return {
    users: new RedisUsers(redis, `${prefix}users`),
    agents: new RedisAgents(redis, `${prefix}agents`),
    jobs,
    output: new RedisOutput(redis, prefix),
    enrollments: new RedisEnrollments(redis, `${prefix}enroll`),
    sessions: new RedisRevokedSessions(redis, `${prefix}revoked-session:`),
    audit: new RedisAuditLog(redis, `${prefix}audit`),
    secret,
    redis,
    prefix,
    url,
    async ping() {
      if (redis.status !== 'ready') throw new Error(`redis ${redactUrl(url)} is ${redis.status}`);
      await redis.ping();
    },
    async close() {
      await jobs.flush();
      await closeClient(redis);
    },
  };
}

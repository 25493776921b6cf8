import { auditMatches } from './audit-file.js';
import { CoalescingWriter } from './coalesce.js';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { Redis } from 'ioredis';
import { createdAtOf } from '../../../domain/ids.js';
import type { Agent, Job, User } from '../../../domain/model.js';
import { isTerminal } from '../../../domain/run-state.js';
import { StartupError } from '../../../lib/errors.js';
import type {
  AgentRepository,
  AuditEntry,
  AuditLog,
  EnrollmentRepository,
  EnrollmentToken,
  JobRepository,
  OutputStore,
  OutputStream,
  Store,
  UserRepository,
} from '../../application/ports.js';
import { RedisRevokedSessions } from './redis-sessions.js';

/**
 * The scale-out store (docs/architecture.md §6.2): the same repositories as the lowdb store, in one Redis shared by every
 * controller. Keys start with `prefix` (default `ogent:`), so several installations can share a Redis database.
 */
export interface RedisStoreOptions {
  prefix?: string;
}

const parseJson = <T>(text: string | null | undefined): T | undefined =>
  text === null || text === undefined ? undefined : (JSON.parse(text) as T);

class RedisUsers implements UserRepository {
  constructor(
    private readonly redis: Redis,
    private readonly key: string,
  ) {}
  async get(name: string) {
    return parseJson<User>(await this.redis.hget(this.key, name));
  }
  async list() {
    const all = await this.redis.hvals(this.key);
    return all.map((v) => JSON.parse(v) as User).sort((a, b) => a.name.localeCompare(b.name));
  }
  async put(user: User) {
    await this.redis.hset(this.key, user.name, JSON.stringify(user));
  }
  async create(user: User) {
    return (await this.redis.hsetnx(this.key, user.name, JSON.stringify(user))) === 1;
  }
  async remove(name: string) {
    return (await this.redis.hdel(this.key, name)) > 0;
  }
}

const UPDATE_ATTEMPTS = 50;
/**
 * Replaces agent ARGV[1] (named ARGV[2]) with ARGV[4] if its stored document is still ARGV[3] ('' for none, and
 * then the name must be free too); 1 when written, 0 when another write came first.
 */
const REPLACE_AGENT = `
local current = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if current ~= ARGV[3] then return 0 end
local owner = redis.call('HGET', KEYS[2], ARGV[2])
if ARGV[3] == '' and owner then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
return 1`;

class RedisAgents implements AgentRepository {
  constructor(
    private readonly redis: Redis,
    private readonly key: string,
  ) {}
  private get byName() {
    return `${this.key}:byname`;
  }
  async get(id: string) {
    return parseJson<Agent>(await this.redis.hget(this.key, id));
  }
  async getByName(name: string) {
    const id = await this.redis.hget(this.byName, name);
    return id ? this.get(id) : undefined;
  }
  async list() {
    const all = await this.redis.hvals(this.key);
    return all.map((v) => JSON.parse(v) as Agent).sort((a, b) => a.name.localeCompare(b.name));
  }
  async put(agent: Agent) {
    await this.redis
      .multi()
      .hset(this.key, agent.id, JSON.stringify(agent))
      .hset(this.byName, agent.name, agent.id)
      .exec()
      .then(failed);
  }
  async update(name: string, change: (agent: Agent | undefined) => Agent | undefined) {
    // Optimistic: written only if the document is still the one read (a Lua script runs atomically), else again.
    for (let attempt = 0; attempt < UPDATE_ATTEMPTS; attempt++) {
      const id = await this.redis.hget(this.byName, name);
      const raw = id ? await this.redis.hget(this.key, id) : null;
      const existing = parseJson<Agent>(raw);
      const changed = change(existing);
      if (!changed) return existing;
      const written = await this.redis.eval(
        REPLACE_AGENT,
        2,
        this.key,
        this.byName,
        changed.id,
        name,
        raw ?? '',
        JSON.stringify(changed),
      );
      if (written === 1) return changed;
    }
    throw new Error(`agent ${name} kept changing: not updated after ${UPDATE_ATTEMPTS} attempts`);
  }
  async remove(id: string) {
    const agent = await this.get(id);
    if (!agent) return false;
    await this.redis.multi().hdel(this.key, id).hdel(this.byName, agent.name).exec().then(failed);
    return true;
  }
}

/** MULTI answers errors per command: the first one rejects the whole write. */
function failed(results: Array<[Error | null, unknown]> | null): void {
  if (results === null) throw new Error('redis transaction aborted');
  for (const [err] of results) if (err) throw err;
}

/**
 * One JSON document per job (`job:<id>`), an index of every id (a sorted set scored 0, so ordered by id, i.e. by
 * creation time) and the set of unfinished ones. Puts of one job are coalesced like the lowdb store's: while a
 * write is in flight, every put shares the next one, which writes the job as it is when it starts.
 */
class RedisJobs implements JobRepository {
  private readonly writer = new CoalescingWriter<Job>((_id, job) => this.write(job));
  /** Waits for the job writes asked for so far (the store's close). */
  flush(): Promise<void> {
    return this.writer.flush();
  }
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}
  private doc(id: string) {
    return `${this.prefix}job:${id}`;
  }
  private get index() {
    return `${this.prefix}jobs`;
  }
  private get running() {
    return `${this.prefix}jobs:running`;
  }

  async get(id: string) {
    return parseJson<Job>(await this.redis.get(this.doc(id)));
  }

  async list({ limit, before }: { limit: number; before?: string }) {
    const ids = await this.redis.zrevrangebylex(
      this.index,
      before === undefined ? '+' : `(${before}`,
      '-',
      'LIMIT',
      0,
      limit,
    );
    return this.many(ids);
  }

  private async many(ids: string[]): Promise<Job[]> {
    if (ids.length === 0) return [];
    const docs = await this.redis.mget(ids.map((id) => this.doc(id)));
    return docs.map((d) => parseJson<Job>(d)).filter((j): j is Job => j !== undefined);
  }

  async listRunning() {
    return this.many((await this.redis.smembers(this.running)).sort());
  }

  async listExpired({ keep, olderThan }: { keep?: number; olderThan?: string }) {
    const [ids, running] = await Promise.all([this.redis.zrange(this.index, 0, -1), this.redis.smembers(this.running)]);
    const unfinished = new Set(running);
    const finished = ids.filter((id) => !unfinished.has(id));
    const expired = new Set<string>();
    if (keep !== undefined && finished.length > keep)
      finished.slice(0, finished.length - keep).forEach((id) => expired.add(id));
    if (olderThan !== undefined) for (const id of finished) if (createdAtOf(id) < olderThan) expired.add(id);
    return [...expired];
  }

  async remove(id: string) {
    this.writer.forget(id);
    await this.redis.multi().del(this.doc(id)).zrem(this.index, id).srem(this.running, id).exec().then(failed);
  }

  put(job: Job): Promise<void> {
    return this.writer.put(job.id, job);
  }

  private async write(job: Job): Promise<void> {
    const done = job.runs.every((r) => isTerminal(r.status));
    const tx = this.redis.multi().set(this.doc(job.id), JSON.stringify(job)).zadd(this.index, 0, job.id);
    if (done) tx.srem(this.running, job.id);
    else tx.sadd(this.running, job.id);
    await tx.exec().then(failed);
  }
}

/** `length` bytes at most of a string key, cut to `bytes` (truncate after a crash, docs/protocol.md §7). */
const TRUNCATE = `
local len = redis.call('STRLEN', KEYS[1])
local keep = tonumber(ARGV[1])
if len > keep then
  if keep == 0 then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], redis.call('GETRANGE', KEYS[1], 0, keep - 1)) end
end
return len`;

/** Full run output: one string per run and stream, appended to (APPEND keeps the order of one connection). */
class RedisOutput implements OutputStore {
  /** Read back this many bytes at a time. */
  static readonly CHUNK = 256 * 1024;
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}
  private key(jobId: string, runId: string, stream: OutputStream) {
    return `${this.prefix}out:${jobId}:${runId}:${stream}`;
  }
  private keys(jobId: string) {
    return `${this.prefix}out:${jobId}`;
  }
  async append(jobId: string, runId: string, stream: OutputStream, data: string | Buffer) {
    const key = this.key(jobId, runId, stream);
    await this.redis.multi().append(key, data).sadd(this.keys(jobId), key).exec().then(failed);
  }
  async openRead(jobId: string, runId: string, stream: OutputStream, start = 0): Promise<Readable> {
    const key = this.key(jobId, runId, stream);
    const redis = this.redis;
    const size = await redis.strlen(key);
    async function* chunks() {
      for (let at = start; at < size; at += RedisOutput.CHUNK) {
        yield await redis.getrangeBuffer(key, at, Math.min(size, at + RedisOutput.CHUNK) - 1);
      }
    }
    return Readable.from(chunks(), { objectMode: false });
  }
  async removeJob(jobId: string) {
    const keys = await this.redis.smembers(this.keys(jobId));
    await this.redis.del(this.keys(jobId), ...keys);
  }
  async truncate(jobId: string, runId: string, stream: OutputStream, bytes: number) {
    await this.redis.eval(TRUNCATE, 1, this.key(jobId, runId, stream), String(bytes));
  }
}

/** Takes one use of a join token atomically: with uses left and not expired at ARGV[2]; returns it after the use. */
const CONSUME = `
local id = redis.call('HGET', KEYS[2], ARGV[1])
if not id then return false end
local raw = redis.call('HGET', KEYS[1], id)
if not raw then return false end
local token = cjson.decode(raw)
if token.usesLeft <= 0 or token.expiresAt <= ARGV[2] then return false end
token.usesLeft = token.usesLeft - 1
local out = cjson.encode(token)
redis.call('HSET', KEYS[1], id, out)
return out`;

export class RedisEnrollments implements EnrollmentRepository {
  constructor(
    private readonly redis: Redis,
    private readonly key: string,
  ) {}
  private get byHash() {
    return `${this.key}:byhash`;
  }
  async put(token: EnrollmentToken) {
    await this.redis
      .multi()
      .hset(this.key, token.id, JSON.stringify(token))
      .hset(this.byHash, token.hash, token.id)
      .exec()
      .then(failed);
  }
  async getByHash(hash: string) {
    const id = await this.redis.hget(this.byHash, hash);
    return id ? parseJson<EnrollmentToken>(await this.redis.hget(this.key, id)) : undefined;
  }
  private async all() {
    return (await this.redis.hvals(this.key)).map((v) => JSON.parse(v) as EnrollmentToken);
  }
  async list() {
    return (await this.all()).sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }
  async consume(hash: string, now: string) {
    const out = (await this.redis.eval(CONSUME, 2, this.key, this.byHash, hash, now)) as string | null;
    return parseJson<EnrollmentToken>(out);
  }
  async remove(id: string) {
    const raw = await this.redis.hget(this.key, id);
    if (!raw) return false;
    const token = JSON.parse(raw) as EnrollmentToken;
    await this.redis.multi().hdel(this.key, id).hdel(this.byHash, token.hash).exec().then(failed);
    return true;
  }
  async removeExpiredBefore(before: string) {
    const old = (await this.all()).filter((t) => t.expiresAt < before);
    if (!old.length) return 0;
    await this.redis
      .multi()
      .hdel(this.key, ...old.map((t) => t.id))
      .hdel(this.byHash, ...old.map((t) => t.hash))
      .exec()
      .then(failed);
    return old.length;
  }
}

/** The audit log: a Redis list, appended to by every controller (RPUSH is atomic, so lines never interleave). */
export class RedisAuditLog implements AuditLog {
  constructor(
    private readonly redis: Redis,
    private readonly key: string,
  ) {}
  async append(entry: AuditEntry) {
    await this.redis.rpush(this.key, JSON.stringify(entry));
  }
  async read({ since, limit, action }: { since?: string; limit?: number; action?: string }) {
    const all = (await this.redis.lrange(this.key, 0, -1)).map((l) => JSON.parse(l) as AuditEntry);
    const kept = all.filter((e) => auditMatches(e, { since, action }));
    return limit === undefined ? kept : kept.slice(Math.max(0, kept.length - limit));
  }
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

export async function openRedisStore(url: string, options: RedisStoreOptions = {}): Promise<RedisStore> {
  if (!/^rediss?:\/\//.test(url)) {
    throw new StartupError(`invalid --redis URL "${redactUrl(url)}": use redis://[:password@]host:port[/db]`);
  }
  const prefix = options.prefix ?? 'ogent:';
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

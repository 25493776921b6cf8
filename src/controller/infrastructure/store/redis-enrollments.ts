import type { Redis } from 'ioredis';
import type { EnrollmentRepository, EnrollmentToken } from '../../application/ports.js';
import { failed, parseJson } from './redis-json.js';

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

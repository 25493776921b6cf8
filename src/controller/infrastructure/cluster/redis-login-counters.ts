import type { Redis } from 'ioredis';
import type { LoginCounters } from '../../application/ports.js';

/**
 * Counts on every key unless one is at its limit (KEYS: counters; ARGV: window ms, then each key's limit): 0 when
 * counted, else the milliseconds left in the full key's window. One script, so two controllers never both take the
 * last attempt of a window.
 */
const TAKE = `
for i, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') >= tonumber(ARGV[i + 1]) then
    return math.max(1, redis.call('PTTL', key))
  end
end
for _, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then redis.call('PEXPIRE', key, ARGV[1]) end
end
return 0`;

/** Takes one count back from each key still in its window (DECR keeps the window's expiry). */
const REFUND = `
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
end
return 0`;

/** Login counters shared by every controller of a cluster (`--redis`, docs/architecture.md §7.3). */
export class RedisLoginCounters implements LoginCounters {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async take(keys: Array<{ key: string; limit: number }>, windowMs: number): Promise<number> {
    const names = keys.map((k) => this.name(k.key));
    const limits = keys.map((k) => String(k.limit));
    return Number(await this.redis.eval(TAKE, names.length, ...names, String(windowMs), ...limits));
  }

  async refund(keys: string[]): Promise<void> {
    const names = keys.map((k) => this.name(k));
    await this.redis.eval(REFUND, names.length, ...names);
  }

  private name(key: string) {
    return `${this.prefix}login:${key}`;
  }
}

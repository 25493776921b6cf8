import type { Redis } from 'ioredis';
import { Readable } from 'node:stream';
import type { OutputStore, OutputStream } from '../../application/ports.js';
import { failed } from './redis-json.js';

/** `length` bytes at most of a string key, cut to `bytes` (truncate after a crash, docs/protocol.md §7). */
const TRUNCATE = `
local len = redis.call('STRLEN', KEYS[1])
local keep = tonumber(ARGV[1])
if len > keep then
  if keep == 0 then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], redis.call('GETRANGE', KEYS[1], 0, keep - 1)) end
end
return len`;

/** Full run output: one string per run and stream, appended to (APPEND keeps the order of one connection). */
export class RedisOutput implements OutputStore {
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

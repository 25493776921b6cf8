import type { Redis } from 'ioredis';
import type { JobStdin } from '../../../domain/model.js';
import type { StdinStore } from '../../application/ports.js';

/**
 * Appends the part of ARGV[2] (at offset ARGV[1]) not stored yet, unless the key would pass ARGV[3] bytes (-1 then);
 * returns the size stored. Atomic, so controllers resuming one upload never store a byte twice.
 */
const APPEND = `
local size = redis.call('STRLEN', KEYS[1])
local offset = tonumber(ARGV[1])
local data = ARGV[2]
if offset > size then return size end
local skip = size - offset
if skip >= #data then return size end
if size + #data - skip > tonumber(ARGV[3]) then return -1 end
return redis.call('APPEND', KEYS[1], string.sub(data, skip + 1))`;

/** Jobs' stdin in Redis (scale-out): `stdin:JOB` holds the bytes (APPEND, GETRANGE), `stdin:JOB:end` how it ended. */
export class RedisStdin implements StdinStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(jobId: string, end = false) {
    return `${this.prefix}stdin:${jobId}${end ? ':end' : ''}`;
  }

  async append(jobId: string, offset: number, data: Buffer, maxBytes: number): Promise<number> {
    return (await this.redis.eval(APPEND, 1, this.key(jobId), String(offset), data, String(maxBytes))) as number;
  }

  async finish(jobId: string, outcome: { ended: true } | { error: string }): Promise<void> {
    await this.redis.set(this.key(jobId, true), JSON.stringify(outcome), 'NX');
  }

  async state(jobId: string): Promise<JobStdin> {
    const [bytes, end] = await Promise.all([this.redis.strlen(this.key(jobId)), this.redis.get(this.key(jobId, true))]);
    const outcome = end ? (JSON.parse(end) as { ended?: boolean; error?: string }) : undefined;
    return { bytes, ended: outcome?.ended === true, ...(outcome?.error ? { error: outcome.error } : {}) };
  }

  async read(jobId: string, offset: number, max: number): Promise<Buffer> {
    if (max <= 0) return Buffer.alloc(0);
    return this.redis.getrangeBuffer(this.key(jobId), offset, offset + max - 1);
  }

  async remove(jobId: string): Promise<void> {
    await this.redis.del(this.key(jobId), this.key(jobId, true));
  }
}

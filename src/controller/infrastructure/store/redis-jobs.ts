import type { Redis } from 'ioredis';
import type { Job } from '../../../domain/model.js';
import { isTerminal } from '../../../domain/run-state.js';
import type { ExpiredQuery, JobRepository } from '../../application/ports.js';
import { CoalescingWriter } from './coalesce.js';
import { ExpiredPicker } from './expired.js';
import { failed, parseJson } from './redis-json.js';

/**
 * One JSON document per job (`job:<id>`), an index of every id (a sorted set scored 0, so ordered by id, i.e. by
 * creation time) and the set of unfinished ones. Puts of one job are coalesced like the lowdb store's: while a
 * write is in flight, every put shares the next one, which writes the job as it is when it starts.
 */
export class RedisJobs implements JobRepository {
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

  async listExpired(options: ExpiredQuery) {
    const [running, total] = await Promise.all([this.redis.smembers(this.running), this.redis.zcard(this.index)]);
    const picker = new ExpiredPicker(new Set(running), total, options);
    const page = Math.max(100, options.limit + running.length);
    const from = options.after === undefined ? '-' : `(${options.after}`;
    for (let start = 0; start < total; start += page) {
      const ids = await this.redis.zrangebylex(this.index, from, '+', 'LIMIT', start, page);
      if (!picker.take(ids) || ids.length < page) break;
    }
    return picker.picked;
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

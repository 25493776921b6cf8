import type { Redis } from 'ioredis';
import type { AuditEntry, AuditLog } from '../../application/ports.js';
import { auditMatches } from './audit-file.js';

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

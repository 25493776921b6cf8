import type { Redis } from 'ioredis';
import type { RevokedSessions } from '../../application/ports.js';

/** Revoked sessions shared by the cluster: one key per sid, expiring with its refresh token. */
export class RedisRevokedSessions implements RevokedSessions {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async revoke(sid: string, until: number, now = Date.now()) {
    const ttlMs = until - now;
    if (ttlMs > 0) await this.redis.set(this.key(sid), '1', 'PX', ttlMs);
  }

  async isRevoked(sid: string) {
    return (await this.redis.exists(this.key(sid))) === 1;
  }

  private key(sid: string) {
    return `${this.prefix}${sid}`;
  }
}

import type { Low } from 'lowdb';
import type { RevokedSessions } from '../../application/ports.js';

export type RevokedSessionsFile = { revoked: Record<string, number> };

/** Revoked sessions in a small file (`sessions.json`): sid → until (epoch ms); the expired are dropped on each write. */
export class LowRevokedSessions implements RevokedSessions {
  constructor(private readonly db: Low<RevokedSessionsFile>) {}

  async revoke(sid: string, until: number, now = Date.now()) {
    const kept = Object.entries(this.db.data.revoked).filter(([, end]) => end > now);
    this.db.data.revoked = { ...Object.fromEntries(kept), [sid]: until };
    await this.db.write();
  }

  async isRevoked(sid: string, now = Date.now()) {
    return (this.db.data.revoked[sid] ?? 0) > now;
  }
}

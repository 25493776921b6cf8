import type { LoginCounters } from '../application/ports.js';

/** Entries kept before the ended windows are swept out. */
const SWEEP_ABOVE = 10_000;

/** Login counters of one controller process (without `--redis`). */
export class MemoryLoginCounters implements LoginCounters {
  private readonly windows = new Map<string, { count: number; endsAt: number }>();

  take(keys: Array<{ key: string; limit: number }>, windowMs: number, now = Date.now()): Promise<number> {
    for (const { key, limit } of keys) {
      const window = this.current(key, now);
      if (window && window.count >= limit) return Promise.resolve(Math.max(1, window.endsAt - now));
    }
    if (this.windows.size > SWEEP_ABOVE) this.sweep(now);
    for (const { key } of keys) {
      const window = this.current(key, now);
      if (window) window.count += 1;
      else this.windows.set(key, { count: 1, endsAt: now + windowMs });
    }
    return Promise.resolve(0);
  }

  refund(keys: string[], now = Date.now()): Promise<void> {
    for (const key of keys) {
      const window = this.current(key, now);
      if (window && window.count > 0) window.count -= 1;
    }
    return Promise.resolve();
  }

  private current(key: string, now: number) {
    const window = this.windows.get(key);
    return window && window.endsAt > now ? window : undefined;
  }

  private sweep(now: number) {
    for (const [key, window] of this.windows) if (window.endsAt <= now) this.windows.delete(key);
  }
}

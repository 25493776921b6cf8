import { createdAtOf } from '../../../domain/ids.js';
import type { ExpiredQuery } from '../../application/ports.js';

/**
 * Walks job ids oldest first (ids sort by creation time, domain/ids.ts), page by page, and picks the finished ones
 * retention removes: the oldest `finished - keep`, then the ones created before `olderThan`. Stops at `limit`, or
 * at the first finished job that is kept (every later one is newer), so a round reads what it removes plus the
 * unfinished jobs among them, not the whole history.
 */
export class ExpiredPicker {
  readonly picked: string[] = [];
  private beyondKeep: number;
  done = false;

  constructor(
    private readonly unfinished: ReadonlySet<string>,
    total: number,
    private readonly options: ExpiredQuery,
  ) {
    const finished = total - unfinished.size;
    this.beyondKeep = options.keep === undefined ? 0 : Math.max(0, finished - options.keep);
    this.done = options.limit <= 0;
  }

  /** Takes the next ids (from index `start`), oldest first; returns false once nothing after them can be picked. */
  take(ids: readonly string[], start = 0): boolean {
    for (let i = start; i < ids.length && !this.done; i++) {
      const id = ids[i] as string;
      if (this.unfinished.has(id)) continue;
      if (this.beyondKeep > 0) {
        this.beyondKeep--;
        this.pick(id);
      } else if (this.options.olderThan !== undefined && createdAtOf(id) < this.options.olderThan) this.pick(id);
      else this.done = true;
    }
    return !this.done;
  }

  private pick(id: string): void {
    this.picked.push(id);
    if (this.picked.length >= this.options.limit) this.done = true;
  }
}

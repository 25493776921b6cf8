import { createReadStream } from 'node:fs';
import { chmod, open, type FileHandle } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { AuditEntry, AuditLog } from '../../application/ports.js';

/** An audit read's filters, as both stores apply them: at or after `since`, of `action`. */
export function auditMatches(entry: AuditEntry, options: { since?: string; action?: string }): boolean {
  return (
    (options.since === undefined || entry.at >= options.since) &&
    (options.action === undefined || entry.action === options.action)
  );
}

/**
 * The audit log as a file of JSON lines (`audit.log` in the data dir, mode 0600), only ever appended to. A write
 * that does not go through whole (a full disk) is cut back off, so the file holds only whole lines and the callers
 * learn that their entries were not written.
 */
export class FileAuditLog implements AuditLog {
  private handle: FileHandle | undefined;
  private size = 0;
  private tail: Promise<void> = Promise.resolve();
  /** The next write, not started yet: appends meanwhile join it. */
  private pending: { lines: string[]; written: Promise<void> } | undefined;

  constructor(readonly path: string) {}

  async open(): Promise<void> {
    this.handle = await open(this.path, 'a', 0o600);
    // A file made before (or by hand) with a wider mode is narrowed: it names users and addresses.
    await chmod(this.path, 0o600);
    this.size = (await this.handle.stat()).size;
    // A last line cut short (a crash mid-write in an older version, an edit by hand) is ended, so the next entry
    // starts a line of its own instead of being glued to it.
    if (this.size > 0) {
      const last = Buffer.alloc(1);
      const reader = await open(this.path, 'r');
      try {
        await reader.read(last, 0, 1, this.size - 1);
      } finally {
        await reader.close();
      }
      if (last[0] !== 0x0a) await this.write('\n');
    }
  }

  /**
   * Resolves once the entry is on disk (written and fdatasync'ed). Entries that come while a write is in flight go
   * together in the next one (group commit): 1,000 agents logging in at once make a few writes, not 1,000 syncs.
   */
  append(entry: AuditEntry): Promise<void> {
    const line = `${JSON.stringify(entry)}\n`;
    if (this.pending) {
      this.pending.lines.push(line);
      return this.pending.written;
    }
    const pending: { lines: string[]; written: Promise<void> } = { lines: [line], written: Promise.resolve() };
    pending.written = this.tail.then(() => {
      if (this.pending === pending) this.pending = undefined;
      return this.write(pending.lines.join(''));
    });
    this.pending = pending;
    this.tail = pending.written.catch(() => {});
    return pending.written;
  }

  private async write(line: string): Promise<void> {
    const handle = this.handle;
    if (!handle) throw new Error('the audit log is closed');
    const bytes = Buffer.from(line);
    try {
      const { bytesWritten: written } = await handle.write(bytes);
      if (written !== bytes.length) {
        throw Object.assign(new Error(`ENOSPC: only ${written} of ${bytes.length} bytes written`), { code: 'ENOSPC' });
      }
      await handle.datasync();
    } catch (err) {
      // Whatever part of the line went in is cut off again (truncating to the current size changes nothing).
      await handle.truncate(this.size).catch(() => {});
      throw err;
    }
    this.size += bytes.length;
  }

  async read(options: { since?: string; limit?: number; action?: string }): Promise<AuditEntry[]> {
    await this.tail;
    const kept: AuditEntry[] = [];
    const lines = createInterface({ input: createReadStream(this.path, { encoding: 'utf8' }), crlfDelay: Infinity });
    for await (const line of lines) {
      if (!line) continue;
      let entry: AuditEntry;
      try {
        entry = JSON.parse(line) as AuditEntry;
      } catch {
        continue;
      }
      if (!auditMatches(entry, options)) continue;
      kept.push(entry);
      // Only the newest `limit` are returned: drop older ones now and then, not one by one.
      if (options.limit !== undefined && kept.length >= 2 * options.limit + 1024)
        kept.splice(0, kept.length - options.limit);
    }
    return options.limit === undefined ? kept : kept.slice(-options.limit);
  }

  async close(): Promise<void> {
    await this.tail;
    await this.handle?.close();
    this.handle = undefined;
  }
}

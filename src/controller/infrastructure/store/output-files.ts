import { mkdir, open, rm, stat, truncate, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { KeyedSerializer } from '../../../lib/keyed-serializer.js';
import type { OutputStore, OutputStream } from '../../application/ports.js';
import { PRIVATE_DIR, PRIVATE_FILE } from './private-modes.js';

/**
 * Full run output, appended to files beside the store; appends to one file are kept in order. A file being written
 * stays open (at most `MAX_OPEN`, each closed after `IDLE_MS` without a write): a 100 MB run is ~3,000 appends, and
 * opening, creating the folder and closing for each one cost the controller as much as the writes.
 */
export class FileOutput implements OutputStore {
  static readonly MAX_OPEN = 128;
  static readonly IDLE_MS = 2000;
  /** Appends to one file, in order. */
  private readonly queue = new KeyedSerializer();
  /** Open for appending, least recently written first. */
  private readonly handles = new Map<string, { file: FileHandle; idle: NodeJS.Timeout }>();
  constructor(private readonly dir: string) {}

  private path(jobId: string, runId: string, stream: OutputStream) {
    return join(this.dir, jobId, `${runId}.${stream}`);
  }

  private async handle(jobId: string, path: string): Promise<FileHandle> {
    const open_ = this.handles.get(path);
    if (open_) {
      this.handles.delete(path);
      this.handles.set(path, open_);
      open_.idle.refresh();
      return open_.file;
    }
    let file: FileHandle;
    try {
      file = await open(path, 'a', PRIVATE_FILE);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await mkdir(join(this.dir, jobId), { recursive: true, mode: PRIVATE_DIR });
      file = await open(path, 'a', PRIVATE_FILE);
    }
    const idle = setTimeout(() => void this.closeHandle(path), FileOutput.IDLE_MS);
    idle.unref();
    this.handles.set(path, { file, idle });
    if (this.handles.size > FileOutput.MAX_OPEN) {
      const [oldest] = this.handles.keys();
      if (oldest !== undefined) void this.closeHandle(oldest);
    }
    return file;
  }

  /** Closes `path`'s handle once the appends queued for it are done. */
  private closeHandle(path: string): Promise<void> {
    const open_ = this.handles.get(path);
    if (!open_) return Promise.resolve();
    this.handles.delete(path);
    clearTimeout(open_.idle);
    return this.queue.idle(path).then(() => open_.file.close().catch(() => {}));
  }

  append(jobId: string, runId: string, stream: OutputStream, data: string | Buffer): Promise<void> {
    const path = this.path(jobId, runId, stream);
    return this.queue.run(path, async () => {
      const file = await this.handle(jobId, path);
      try {
        await file.appendFile(data);
      } catch (err) {
        // A failed write (a full disk) reopens the file on the next append.
        const open_ = this.handles.get(path);
        if (open_?.file === file) {
          this.handles.delete(path);
          clearTimeout(open_.idle);
        }
        await file.close().catch(() => {});
        throw err;
      }
    });
  }

  async openRead(jobId: string, runId: string, stream: OutputStream, start = 0): Promise<Readable> {
    const path = this.path(jobId, runId, stream);
    await this.queue.idle(path);
    try {
      const handle = await open(path, 'r');
      return handle.createReadStream({ start });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return Readable.from([]);
      throw err;
    }
  }

  async removeJob(jobId: string) {
    const prefix = join(this.dir, jobId) + '/';
    await Promise.all([...this.handles.keys()].filter((p) => p.startsWith(prefix)).map((p) => this.closeHandle(p)));
    await rm(join(this.dir, jobId), { recursive: true, force: true });
  }

  async truncate(jobId: string, runId: string, stream: OutputStream, bytes: number) {
    const path = this.path(jobId, runId, stream);
    await this.queue.idle(path);
    try {
      if ((await stat(path)).size > bytes) await truncate(path, bytes);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  /** Waits for every append, then closes the open files. */
  async flush() {
    await this.queue.idleAll();
    await Promise.all([...this.handles.keys()].map((p) => this.closeHandle(p)));
  }
}

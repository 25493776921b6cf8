import { mkdir, open, readFile, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';
import type { JobStdin } from '../../../domain/model.js';
import { KeyedSerializer } from '../../../lib/keyed-serializer.js';
import type { StdinStore } from '../../application/ports.js';
import { PRIVATE_DIR, PRIVATE_FILE } from './private-modes.js';

/**
 * Jobs' stdin in the data dir (docs/architecture.md §3.9): `stdin/JOB` holds the bytes (0600), `stdin/JOB.end` how
 * it ended (written once). Appends and ends of one job run in order; one controller holds the data dir (its lock).
 */
export class FileStdin implements StdinStore {
  private readonly queue = new KeyedSerializer();
  /** Bytes stored per job, known after the first look. */
  private readonly sizes = new Map<string, number>();
  /** How each job's stdin ended, once known (it never changes after). */
  private readonly ends = new Map<string, { ended?: boolean; error?: string }>();
  /**
   * Open files (append and read), closed after `IDLE_MS` unused: opening, creating the folder and closing for every
   * 64 KiB piece and every read were most of the controller's time on a fast upload (BENCHMARKS.md, stdin).
   */
  private readonly handles = new Map<string, { file: Promise<FileHandle>; idle: NodeJS.Timeout }>();
  static readonly IDLE_MS = 2000;
  private dirMade = false;
  constructor(private readonly dir: string) {}

  /** The job's file, open for appending and reading (created when `create`); undefined when it does not exist. */
  private async handle(jobId: string, create: boolean): Promise<FileHandle | undefined> {
    const open_ = this.handles.get(jobId);
    if (open_) {
      open_.idle.refresh();
      return open_.file;
    }
    if (create && !this.dirMade) {
      await mkdir(this.dir, { recursive: true, mode: PRIVATE_DIR });
      this.dirMade = true;
    }
    // Appends go to the end whoever opened it; reads say where they read. Created only by an append.
    const flags = constants.O_RDWR | constants.O_APPEND | (create ? constants.O_CREAT : 0);
    const file = open(this.path(jobId), flags, PRIVATE_FILE);
    const opened = await file.then(
      () => true,
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' && !create) return false;
        throw err;
      },
    );
    if (!opened) return undefined;
    // Another call opened it meanwhile: keep one.
    const other = this.handles.get(jobId);
    if (other) {
      void file.then((f) => f.close()).catch(() => {});
      return other.file;
    }
    const idle = setTimeout(() => void this.closeHandle(jobId), FileStdin.IDLE_MS);
    idle.unref();
    this.handles.set(jobId, { file, idle });
    return file;
  }

  private async closeHandle(jobId: string): Promise<void> {
    const open_ = this.handles.get(jobId);
    if (!open_) return;
    this.handles.delete(jobId);
    clearTimeout(open_.idle);
    await this.queue.idle(jobId);
    await (await open_.file).close().catch(() => {});
  }

  private path(jobId: string, end = false) {
    return join(this.dir, end ? `${jobId}.end` : jobId);
  }

  private async size(jobId: string): Promise<number> {
    const known = this.sizes.get(jobId);
    if (known !== undefined) return known;
    const size = await stat(this.path(jobId)).then(
      (s) => s.size,
      () => 0,
    );
    this.sizes.set(jobId, size);
    return size;
  }

  append(jobId: string, offset: number, data: Buffer, maxBytes: number): Promise<number> {
    return this.queue.run(jobId, async () => {
      const size = await this.size(jobId);
      const fresh = data.subarray(Math.min(data.length, size - offset));
      if (offset > size || fresh.length === 0) return size;
      if (size + fresh.length > maxBytes) return -1;
      const file = (await this.handle(jobId, true)) as FileHandle;
      try {
        await file.write(fresh);
      } catch (err) {
        // Part of it may be in the file: the next append measures again, on a file opened again.
        this.sizes.delete(jobId);
        void this.closeHandle(jobId);
        throw err;
      }
      this.sizes.set(jobId, size + fresh.length);
      return size + fresh.length;
    });
  }

  finish(jobId: string, outcome: { ended: true } | { error: string }): Promise<void> {
    return this.queue.run(jobId, async () => {
      await mkdir(this.dir, { recursive: true, mode: PRIVATE_DIR });
      this.dirMade = true;
      await writeFile(this.path(jobId, true), JSON.stringify(outcome), { mode: PRIVATE_FILE, flag: 'wx' }).catch(
        (err: NodeJS.ErrnoException) => {
          // Ended already: the first outcome stays.
          if (err.code !== 'EEXIST') throw err;
        },
      );
    });
  }

  async state(jobId: string): Promise<JobStdin> {
    const bytes = await this.size(jobId);
    let end = this.ends.get(jobId);
    if (!end) {
      end = await readFile(this.path(jobId, true), 'utf8').then(
        (text) => JSON.parse(text) as { ended?: boolean; error?: string },
        () => undefined,
      );
      if (end) this.ends.set(jobId, end);
    }
    return { bytes, ended: end?.ended === true, ...(end?.error ? { error: end.error } : {}) };
  }

  async read(jobId: string, offset: number, max: number): Promise<Buffer> {
    const file = await this.handle(jobId, false);
    if (!file) return Buffer.alloc(0);
    const buffer = Buffer.allocUnsafe(max);
    const { bytesRead } = await file.read(buffer, 0, max, offset);
    return buffer.subarray(0, bytesRead);
  }

  remove(jobId: string): Promise<void> {
    return this.queue.run(jobId, async () => {
      this.sizes.delete(jobId);
      this.ends.delete(jobId);
      const open_ = this.handles.get(jobId);
      if (open_) {
        this.handles.delete(jobId);
        clearTimeout(open_.idle);
        await (await open_.file).close().catch(() => {});
      }
      await rm(this.path(jobId), { force: true });
      await rm(this.path(jobId, true), { force: true });
    });
  }
}

import { mkdir, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
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
  constructor(private readonly dir: string) {}

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
      await mkdir(this.dir, { recursive: true, mode: PRIVATE_DIR });
      const file = await open(this.path(jobId), 'a', PRIVATE_FILE);
      try {
        await file.write(fresh);
      } catch (err) {
        // Part of it may be in the file: the next append measures again.
        this.sizes.delete(jobId);
        throw err;
      } finally {
        await file.close();
      }
      this.sizes.set(jobId, size + fresh.length);
      return size + fresh.length;
    });
  }

  finish(jobId: string, outcome: { ended: true } | { error: string }): Promise<void> {
    return this.queue.run(jobId, async () => {
      await mkdir(this.dir, { recursive: true, mode: PRIVATE_DIR });
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
    const end = await readFile(this.path(jobId, true), 'utf8').then(
      (text) => JSON.parse(text) as { ended?: boolean; error?: string },
      () => undefined,
    );
    return { bytes, ended: end?.ended === true, ...(end?.error ? { error: end.error } : {}) };
  }

  async read(jobId: string, offset: number, max: number): Promise<Buffer> {
    const file = await open(this.path(jobId), 'r').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (!file) return Buffer.alloc(0);
    try {
      const buffer = Buffer.alloc(max);
      const { bytesRead } = await file.read(buffer, 0, max, offset);
      return buffer.subarray(0, bytesRead);
    } finally {
      await file.close();
    }
  }

  remove(jobId: string): Promise<void> {
    return this.queue.run(jobId, async () => {
      this.sizes.delete(jobId);
      await rm(this.path(jobId), { force: true });
      await rm(this.path(jobId, true), { force: true });
    });
  }
}

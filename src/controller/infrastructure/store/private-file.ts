import { open, readFile, rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Adapter } from 'lowdb';

/**
 * A lowdb file only its owner can read: written whole to a temporary file created 0600, then renamed over it (lowdb's
 * own files are created with the process's umask, 0644: password hashes, join-token hashes and job env for anyone).
 * Writes while one is in flight wait and write only the newest data, as lowdb's writer does.
 */
export class PrivateFile<T> implements Adapter<T> {
  private readonly temp: string;
  private writing: Promise<void> | undefined;
  private next: { text: string; written: Promise<void> } | undefined;

  constructor(
    private readonly path: string,
    private readonly format: { parse: (text: string) => T; stringify: (data: T) => string },
  ) {
    this.temp = join(dirname(path), `.${basename(path)}.tmp`);
  }

  async read(): Promise<T | null> {
    try {
      return this.format.parse(await readFile(this.path, 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  write(data: T): Promise<void> {
    const text = this.format.stringify(data);
    if (this.next) {
      this.next.text = text;
      return this.next.written;
    }
    if (!this.writing) return this.start(text);
    const next = { text, written: Promise.resolve() };
    next.written = this.writing.then(
      () => this.startNext(next),
      () => this.startNext(next),
    );
    this.next = next;
    return next.written;
  }

  private startNext(next: { text: string }): Promise<void> {
    this.next = undefined;
    return this.start(next.text);
  }

  private start(text: string): Promise<void> {
    const written = this.replace(text);
    this.writing = written;
    const done = () => {
      if (this.writing === written) this.writing = undefined;
    };
    written.then(done, done);
    return written;
  }

  private async replace(text: string): Promise<void> {
    const handle = await open(this.temp, 'w', 0o600);
    try {
      await handle.writeFile(text, 'utf8');
    } finally {
      await handle.close();
    }
    await rename(this.temp, this.path);
  }
}

/** lowdb's JSONFile format (indented), in a private file. */
export const privateJsonFile = <T>(path: string) =>
  new PrivateFile<T>(path, {
    parse: (text) => JSON.parse(text) as T,
    stringify: (data) => JSON.stringify(data, null, 2),
  });

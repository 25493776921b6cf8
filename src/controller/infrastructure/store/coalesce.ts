/**
 * One write per key in flight; every put meanwhile shares the next one, which takes the value as it is when that
 * write starts. A 1,000-run job gets thousands of puts: serialising each was the controller's main cost
 * (BENCHMARKS.md, fanout). Used by both stores for job documents.
 */
export class CoalescingWriter<T> {
  private readonly writing = new Map<string, Promise<void>>();
  private readonly queued = new Map<string, { value: T; written: Promise<void> }>();

  /**
   * @param write stores one value; its synchronous part (the serialisation) is timed.
   * @param gapFactor the next write of a key starts this many times that time after the previous one is done (0: at once).
   */
  constructor(
    private readonly write: (key: string, value: T) => Promise<void>,
    private readonly gapFactor = 0,
  ) {}

  /** Resolves once a write that started after this call has stored `value` or a newer one. */
  put(key: string, value: T): Promise<void> {
    const queued = this.queued.get(key);
    if (queued) {
      queued.value = value;
      return queued.written;
    }
    const entry = { value, written: Promise.resolve() };
    entry.written = (this.writing.get(key) ?? Promise.resolve())
      .catch(() => {})
      .then(() => {
        if (this.queued.get(key) !== entry) return; // forgotten meanwhile
        this.queued.delete(key);
        const t0 = performance.now();
        const write = this.write(key, entry.value);
        const gapMs = (performance.now() - t0) * this.gapFactor;
        // The next write of this key starts `gapMs` after this one is done; this put resolves when it is.
        const paced = gapMs < 1 ? write : write.then(() => new Promise<void>((r) => setTimeout(r, gapMs)));
        this.writing.set(key, paced);
        void paced
          .finally(() => {
            if (this.writing.get(key) === paced) this.writing.delete(key);
          })
          .catch(() => {});
        return write;
      });
    this.queued.set(key, entry);
    return entry.written;
  }

  /** Resolves when every put so far is written (or failed). */
  async flush(): Promise<void> {
    const pending = [...this.writing.values(), ...[...this.queued.values()].map((q) => q.written)];
    await Promise.all(pending.map((p) => p.catch(() => {})));
  }

  /** Drops a write not yet started (the key was removed). */
  forget(key: string): void {
    this.queued.delete(key);
  }
}

/** At most `size` tasks run at once; the others wait their turn, first come first served. */
export class Semaphore {
  private running = 0;
  private highest = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly size: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    // A finishing task hands its slot straight to the next in line, so `running` never passes `size`.
    if (this.running < this.size) this.running += 1;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.highest = Math.max(this.highest, this.running);
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running -= 1;
    }
  }

  /** Tasks running now. */
  get active(): number {
    return this.running;
  }

  /** The most tasks that ever ran at once. */
  get peak(): number {
    return this.highest;
  }

  /** Nothing runs and nothing waits. */
  get idle(): boolean {
    return this.running === 0 && this.waiting.length === 0;
  }
}

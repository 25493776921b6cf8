import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CommandResult } from '../protocol/events.js';

interface SpoolFile {
  /** Results not yet acknowledged by the controller. */
  results: CommandResult[];
  /** Recently finished run ids, so a repeated execute_command re-reports instead of re-running. */
  done: string[];
}

const DONE_KEPT = 5000;

/** The agent's durable memory of results (DESIGN §3.3): written before sending, removed on ack. */
export class ResultSpool {
  private data: SpoolFile = { results: [], done: [] };
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly dir: string | null) {}

  async open(): Promise<void> {
    if (!this.dir) return;
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    try {
      const parsed = JSON.parse(await readFile(this.file, 'utf8')) as Partial<SpoolFile>;
      this.data = {
        results: Array.isArray(parsed.results) ? parsed.results : [],
        done: Array.isArray(parsed.done) ? parsed.done : [],
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      // A corrupt spool is set aside, not overwritten, and the agent starts clean.
      await rename(this.file, `${this.file}.corrupt-${Date.now()}`).catch(() => {});
    }
  }

  private get file() {
    return join(this.dir as string, 'spool.json');
  }

  pending(): CommandResult[] {
    return [...this.data.results];
  }

  find(runId: string): CommandResult | undefined {
    return this.data.results.find((r) => r.runId === runId);
  }

  isDone(runId: string): boolean {
    return this.data.done.includes(runId);
  }

  async add(result: CommandResult): Promise<void> {
    this.data.results = [...this.data.results.filter((r) => r.runId !== result.runId), result];
    this.data.done = [...this.data.done.filter((id) => id !== result.runId), result.runId].slice(-DONE_KEPT);
    await this.save();
  }

  async acknowledge(runId: string): Promise<void> {
    const before = this.data.results.length;
    this.data.results = this.data.results.filter((r) => r.runId !== runId);
    if (this.data.results.length !== before) await this.save();
  }

  private save(): Promise<void> {
    if (!this.dir) return Promise.resolve();
    const snapshot = JSON.stringify(this.data);
    const tmp = `${this.file}.tmp`;
    this.writing = this.writing
      .catch(() => {})
      .then(async () => {
        await writeFile(tmp, snapshot, { mode: 0o600 });
        await rename(tmp, this.file);
      });
    return this.writing;
  }
}

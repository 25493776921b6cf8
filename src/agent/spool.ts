import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CommandProgress, CommandResult } from '../protocol/events.js';

interface Accepted {
  runId: string;
  jobId: string;
  startedAt: string;
}

interface SpoolFile {
  /** Runs accepted and started but not finished: if the agent dies, they are reported `lost` at its next start. */
  accepted: Accepted[];
  /** Results not yet acknowledged by the controller. */
  results: CommandResult[];
  /** Recently finished run ids, so a repeated execute_command re-reports instead of re-running. */
  done: string[];
  /** Output of unacknowledged results that the controller may not have stored, kept by an agent that stopped. */
  output?: Record<string, SpooledChunk[]>;
}

/** A chunk of output in the spool file: its bytes in base64 (an older spool holds them as plain strings). */
type SpooledChunk = Omit<CommandProgress, 'data'> & { data: string; encoding?: 'base64' };

const DONE_KEPT = 5000;

/**
 * The agent's durable memory (docs/protocol.md §7): a run is recorded before it starts, its result before it is sent,
 * and the result is removed only when the controller acknowledges it. Written atomically (temp file + rename).
 */
export class ResultSpool {
  private data: SpoolFile = { accepted: [], results: [], done: [] };
  private writing: Promise<void> = Promise.resolve();
  private queued: Promise<void> | null = null;

  constructor(private readonly dir: string | null) {}

  /** Loads the spool; runs that were running when the agent died become `lost` results, ready to report. */
  async open(): Promise<CommandResult[]> {
    if (!this.dir) return [];
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    try {
      const parsed = JSON.parse(await readFile(this.file, 'utf8')) as Partial<SpoolFile>;
      this.data = {
        accepted: Array.isArray(parsed.accepted) ? parsed.accepted : [],
        results: Array.isArray(parsed.results) ? parsed.results : [],
        done: Array.isArray(parsed.done) ? parsed.done : [],
        ...(parsed.output && typeof parsed.output === 'object' ? { output: parsed.output } : {}),
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      // A corrupt spool is set aside, not overwritten, and the agent starts clean.
      await rename(this.file, `${this.file}.corrupt-${Date.now()}`).catch(() => {});
      return [];
    }
    const orphans = this.data.accepted.map((a): CommandResult => ({
      runId: a.runId,
      status: 'lost',
      exitCode: null,
      signal: null,
      startedAt: a.startedAt,
      finishedAt: new Date().toISOString(),
      error: 'the agent stopped while the command ran; its outcome is unknown',
    }));
    this.data.accepted = [];
    for (const result of orphans) this.record(result);
    if (orphans.length) await this.save();
    return orphans;
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

  /** Before a run starts. */
  async accept(runId: string, jobId: string, startedAt: string): Promise<void> {
    this.data.accepted = [...this.data.accepted.filter((a) => a.runId !== runId), { runId, jobId, startedAt }];
    await this.save();
  }

  /** Before a result is sent. */
  async add(result: CommandResult): Promise<void> {
    this.record(result);
    await this.save();
  }

  private record(result: CommandResult) {
    this.data.accepted = this.data.accepted.filter((a) => a.runId !== result.runId);
    this.data.results = [...this.data.results.filter((r) => r.runId !== result.runId), result];
    this.data.done = [...this.data.done.filter((id) => id !== result.runId), result.runId].slice(-DONE_KEPT);
  }

  async acknowledge(runId: string): Promise<void> {
    const before = this.data.results.length;
    this.data.results = this.data.results.filter((r) => r.runId !== runId);
    const hadOutput = this.data.output?.[runId] !== undefined;
    if (hadOutput) delete this.data.output?.[runId];
    if (this.data.results.length !== before || hadOutput) await this.save();
  }

  /** Output kept with unacknowledged results by `keepOutput`, by run id. */
  output(): Array<[string, CommandProgress[]]> {
    return Object.entries(this.data.output ?? {}).map(([runId, chunks]) => [
      runId,
      chunks.map(({ encoding, ...c }) => (encoding === 'base64' ? { ...c, data: Buffer.from(c.data, 'base64') } : c)),
    ]);
  }

  /** Before the agent exits: the output of its unacknowledged results, to re-send after the next start. */
  async keepOutput(output: Record<string, CommandProgress[]>): Promise<void> {
    if (!Object.keys(output).length && !this.data.output) return;
    const spooled: Record<string, SpooledChunk[]> = {};
    for (const [runId, chunks] of Object.entries(output)) {
      spooled[runId] = chunks.map((c) =>
        typeof c.data === 'string'
          ? { ...c, data: c.data }
          : { ...c, data: c.data.toString('base64'), encoding: 'base64' },
      );
    }
    this.data.output = spooled;
    await this.save();
  }

  /** Writes the state as it is when the write starts; saves asked for while one waits share it (coalesced). */
  private save(): Promise<void> {
    if (!this.dir) return Promise.resolve();
    if (this.queued) return this.queued;
    const tmp = `${this.file}.tmp`;
    const next = this.writing
      .catch(() => {})
      .then(async () => {
        this.queued = null;
        await writeFile(tmp, JSON.stringify(this.data), { mode: 0o600 });
        await rename(tmp, this.file);
      });
    this.queued = next;
    this.writing = next;
    return next;
  }
}

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Job } from '../../../domain/model.js';
import { isTerminal } from '../../../domain/run-state.js';
import { StartupError } from '../../../lib/errors.js';
import { JOB_FILE } from './backup-layout.js';
import { CoalescingWriter } from './coalesce.js';
import { RESTORE_HINT } from './lowdb-files.js';
import { privateJsonFile } from './private-file.js';

/**
 * The ids of the unfinished jobs (docs/architecture.md §6.4): what a start reads instead of every job document.
 * Not copied by a backup; a store without it (a restored one, or one of schema 2) has it rebuilt from the documents.
 */
export const UNFINISHED_FILE = 'unfinished.json';

interface UnfinishedFile {
  jobs: string[];
}

export const isUnfinished = (job: Job) => !job.runs.every((r) => isTerminal(r.status));

/**
 * The index file, written as jobs start and finish: a job is added before its first document is written and taken
 * out after its finished document is, so a stop at any point leaves every unfinished job in it (and at worst a
 * finished one, which the next start drops). Writes are coalesced: one in flight, every change meanwhile shares the
 * next, which writes the set as it is then.
 */
export class UnfinishedIndex {
  readonly ids = new Set<string>();
  private readonly path: string;
  private readonly file;
  private readonly writer = new CoalescingWriter<Set<string>>((_key, ids) => this.file.write({ jobs: [...ids] }));

  constructor(dataDir: string) {
    this.path = join(dataDir, UNFINISHED_FILE);
    this.file = privateJsonFile<UnfinishedFile>(this.path);
  }

  /** The ids it records, or undefined when there is no index file. */
  async read(): Promise<string[] | undefined> {
    let data: UnfinishedFile | null;
    try {
      data = await this.file.read();
    } catch (err) {
      throw new StartupError(
        `store file ${this.path} is unreadable or corrupt (${(err as Error).message}): ${RESTORE_HINT}`,
      );
    }
    if (data === null) return undefined;
    if (!Array.isArray(data.jobs) || !data.jobs.every((id) => typeof id === 'string' && /^j[0-9a-z]+$/.test(id))) {
      throw new StartupError(`store file ${this.path} does not hold job ids: ${RESTORE_HINT}`);
    }
    return data.jobs;
  }

  /** Takes `ids` as what the file holds (read at start, unchanged). */
  load(ids: Iterable<string>): void {
    this.ids.clear();
    for (const id of ids) this.ids.add(id);
  }

  replace(ids: Iterable<string>): Promise<void> {
    this.ids.clear();
    for (const id of ids) this.ids.add(id);
    return this.save();
  }

  add(id: string): Promise<void> {
    if (this.ids.has(id)) return Promise.resolve();
    this.ids.add(id);
    return this.save();
  }

  delete(id: string): Promise<void> {
    if (!this.ids.delete(id)) return Promise.resolve();
    return this.save();
  }

  private save(): Promise<void> {
    return this.writer.put('unfinished', this.ids);
  }

  flush(): Promise<void> {
    return this.writer.flush();
  }
}

/** Reads every job document of `jobsDir` (schema 2→3, or a store without its index): the unfinished ones' ids. */
export async function scanUnfinished(jobsDir: string): Promise<string[]> {
  const names = (await readdir(jobsDir).catch(() => [] as string[])).filter((n) => JOB_FILE.test(n)).sort();
  const unfinished: string[] = [];
  for (const name of names) {
    const path = join(jobsDir, name);
    let job: Job;
    try {
      job = JSON.parse(await readFile(path, 'utf8')) as Job;
    } catch (err) {
      throw new StartupError(
        `store file ${path} is unreadable or corrupt (${(err as Error).message}): ${RESTORE_HINT}`,
      );
    }
    if (typeof job !== 'object' || job === null || !Array.isArray(job.runs)) {
      throw new StartupError(`store file ${path} does not hold an ogent job: ${RESTORE_HINT}`);
    }
    if (isUnfinished(job)) unfinished.push(name.replace(/\.json$/, ''));
  }
  return unfinished;
}

import { CoalescingWriter } from './coalesce.js';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Low } from 'lowdb';
import type { Agent, Job, User } from '../../../domain/model.js';
import { StartupError } from '../../../lib/errors.js';
import type { Logger } from '../../../lib/log.js';
import type {
  AgentRepository,
  EnrollmentRepository,
  EnrollmentToken,
  ExpiredQuery,
  JobRepository,
  Store,
  UserRepository,
} from '../../application/ports.js';
import { FileAuditLog } from './audit-file.js';
import { JOB_FILE } from './backup-layout.js';
import { isUnfinished, scanUnfinished, UnfinishedIndex } from './lowdb-unfinished.js';
import { ExpiredPicker } from './expired.js';
import { FileOutput } from './output-files.js';
import { load, loadSecret, notWritable, RESTORE_HINT } from './lowdb-files.js';
import { versionedDataDir, type LowDocuments } from './lowdb-schema.js';
import { LowRevokedSessions, type RevokedSessionsFile } from './lowdb-sessions.js';
import { DataDirLock } from './lock.js';
import { PrivateFile } from './private-file.js';
import { narrowModes, PRIVATE_DIR } from './private-modes.js';
import { foundVersion, upgradeStore } from './schema-upgrade.js';

class LowUsers implements UserRepository {
  constructor(private readonly db: Low<{ users: User[] }>) {}
  async get(name: string) {
    return this.db.data.users.find((u) => u.name === name);
  }
  async list() {
    return [...this.db.data.users];
  }
  async put(user: User) {
    const users = this.db.data.users.filter((u) => u.name !== user.name);
    users.push(user);
    this.db.data.users = users;
    await this.db.write();
  }
  async create(user: User) {
    // One controller owns the data dir, and nothing awaits between the check and the insert.
    if (this.db.data.users.some((u) => u.name === user.name)) return false;
    this.db.data.users = [...this.db.data.users, user];
    await this.db.write();
    return true;
  }
  async remove(name: string) {
    const before = this.db.data.users.length;
    this.db.data.users = this.db.data.users.filter((u) => u.name !== name);
    if (this.db.data.users.length === before) return false;
    await this.db.write();
    return true;
  }
}

/**
 * A whole-document write (lowdb serialises all of it on every `write()`) that callers share: while one is in flight,
 * every caller waits for the next one, which serialises the document as it is when it starts, `gapMs` after the
 * last. 10,000 agents connecting made 10,000 full writes of agents.json, then back-to-back 8 MB ones whose garbage
 * took the controller's RSS to 518 MB (BENCHMARKS.md, connect).
 */
function coalesced(write: () => Promise<void>, gapMs = 0): { save: () => Promise<void>; flush: () => Promise<void> } {
  let idle: Promise<void> = Promise.resolve();
  let last: Promise<void> = Promise.resolve();
  let next: Promise<void> | null = null;
  return {
    save: () => {
      next ??= idle.then(() => {
        next = null;
        const written = write();
        last = written.catch(() => {});
        idle = last.then(() => new Promise((resolve) => setTimeout(resolve, gapMs)));
        return written;
      });
      return next;
    },
    /** Resolves when every save asked for so far is written (or failed). */
    flush: () =>
      (next ?? last).then(
        () => {},
        () => {},
      ),
  };
}

class LowAgents implements AgentRepository {
  private readonly save: () => Promise<void>;
  /** Waits for the writes asked for so far (the store's close). */
  readonly flush: () => Promise<void>;
  constructor(private readonly db: Low<{ agents: Agent[] }>) {
    ({ save: this.save, flush: this.flush } = coalesced(() => this.db.write(), 250));
  }
  async get(id: string) {
    return this.db.data.agents.find((a) => a.id === id);
  }
  async getByName(name: string) {
    return this.db.data.agents.find((a) => a.name === name);
  }
  async list() {
    return [...this.db.data.agents];
  }
  async put(agent: Agent) {
    const i = this.db.data.agents.findIndex((a) => a.id === agent.id);
    if (i >= 0) this.db.data.agents[i] = agent;
    else this.db.data.agents.push(agent);
    await this.save();
  }
  async update(name: string, change: (agent: Agent | undefined) => Agent | undefined) {
    // Read and changed in one synchronous step: nothing else runs in between in this process.
    const existing = this.db.data.agents.find((a) => a.name === name);
    const changed = change(existing);
    if (!changed) return existing;
    await this.put(changed);
    return changed;
  }
  async remove(id: string) {
    const before = this.db.data.agents.length;
    this.db.data.agents = this.db.data.agents.filter((a) => a.id !== id);
    if (this.db.data.agents.length === before) return false;
    await this.save();
    return true;
  }
}

/** Join tokens (hashes only). `consume` checks and takes a use before its first await, so no two callers share one. */
class LowEnrollments implements EnrollmentRepository {
  constructor(private readonly db: Low<{ enrollments: EnrollmentToken[] }>) {}
  async put(token: EnrollmentToken) {
    this.db.data.enrollments = [...this.db.data.enrollments.filter((t) => t.id !== token.id), token];
    await this.db.write();
  }
  async getByHash(hash: string) {
    const token = this.db.data.enrollments.find((t) => t.hash === hash);
    return token && { ...token };
  }
  async list() {
    return this.db.data.enrollments.map((t) => ({ ...t }));
  }
  async consume(hash: string, now: string) {
    const token = this.db.data.enrollments.find((t) => t.hash === hash);
    if (!token || token.usesLeft <= 0 || token.expiresAt <= now) return undefined;
    token.usesLeft -= 1;
    const after = { ...token };
    await this.db.write();
    return after;
  }
  async remove(id: string) {
    const before = this.db.data.enrollments.length;
    this.db.data.enrollments = this.db.data.enrollments.filter((t) => t.id !== id);
    if (this.db.data.enrollments.length === before) return false;
    await this.db.write();
    return true;
  }
  async removeExpiredBefore(before: string) {
    const count = this.db.data.enrollments.length;
    this.db.data.enrollments = this.db.data.enrollments.filter((t) => t.expiresAt >= before);
    const removed = count - this.db.data.enrollments.length;
    if (removed) await this.db.write();
    return removed;
  }
}

/**
 * After each write of a job document, the next one waits this many times as long as serialising it took: a big job
 * (1,000 runs: 300 KB, 5-10 ms of `JSON.stringify` each time) spends at most a fifth of the loop on it while its
 * results pour in; a small one is written again at once.
 */
const WRITE_GAP_FACTOR = 4;

/**
 * One small JSON document per job (lowdb rewrites whole files); PrivateFile coalesces bursts of writes to one file.
 * A start lists the file names and reads the unfinished jobs only (`unfinished.json`), not the history.
 */
class LowJobs implements JobRepository {
  private readonly files = new Map<string, PrivateFile<Job>>();
  /** Every job id, sorted (ids sort by creation time). */
  private ids: string[] = [];
  private readonly known = new Set<string>();
  /** Unfinished now (a job leaves it when it finishes, before the index file does). */
  private readonly running = new Set<string>();
  /** Per job: the write in flight, and the next one that every put meanwhile waits for. */
  private readonly writer = new CoalescingWriter<Job>(
    // After the index holds what it was asked to: an unfinished job is in it before its document is written.
    async (id, job) => {
      await this.index.flush();
      if (this.known.has(id)) await this.file(id).write(job);
    },
    WRITE_GAP_FACTOR,
  );

  constructor(
    private readonly dir: string,
    private readonly index: UnfinishedIndex,
  ) {}

  /** Waits for the job writes asked for so far (the store's close). */
  async flush(): Promise<void> {
    await this.writer.flush();
    await this.index.flush();
  }

  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: PRIVATE_DIR });
    const names = (await readdir(this.dir)).filter((n) => JOB_FILE.test(n)).sort();
    for (const name of names) {
      const id = name.replace(/\.json$/, '');
      this.ids.push(id);
      this.known.add(id);
    }
    const recorded = await this.index.read();
    const listed = recorded ?? (await scanUnfinished(this.dir));
    const unfinished: string[] = [];
    for (const id of listed) {
      const job = await this.get(id);
      if (job === undefined) continue;
      if (job.id !== id || !Array.isArray(job.runs)) {
        throw new StartupError(
          `store file ${join(this.dir, `${id}.json`)} does not hold an ogent job: ${RESTORE_HINT}`,
        );
      }
      if (isUnfinished(job)) unfinished.push(id);
    }
    unfinished.forEach((id) => this.running.add(id));
    if (recorded === undefined || unfinished.length !== listed.length) await this.index.replace(unfinished);
    else this.index.load(unfinished);
  }

  /** Compact JSON (lowdb's JSONFile indents it: a third bigger, and slower to write, for a file no one edits). */
  private file(id: string): PrivateFile<Job> {
    let file = this.files.get(id);
    if (!file) {
      file = new PrivateFile<Job>(join(this.dir, `${id}.json`), {
        parse: JSON.parse,
        stringify: (d) => JSON.stringify(d),
      });
      this.files.set(id, file);
    }
    return file;
  }

  private async read(id: string): Promise<Job | undefined> {
    try {
      return (await this.file(id).read()) ?? undefined;
    } catch (err) {
      throw new StartupError(
        `store file ${join(this.dir, `${id}.json`)} is unreadable or corrupt (${(err as Error).message}): ${RESTORE_HINT}`,
      );
    }
  }

  async get(id: string) {
    if (!this.known.has(id)) return undefined;
    return this.read(id);
  }

  async list({ limit, before }: { limit: number; before?: string }) {
    const end = before === undefined ? this.ids.length : sortedIndex(this.ids, before);
    const ids = this.ids.slice(Math.max(0, end - limit), end).reverse();
    const jobs = await Promise.all(ids.map((id) => this.read(id)));
    return jobs.filter((j): j is Job => j !== undefined);
  }

  async listExpired(options: ExpiredQuery) {
    const picker = new ExpiredPicker(this.running, this.ids.length, options);
    const { after } = options;
    const at = after === undefined ? 0 : sortedIndex(this.ids, after);
    picker.take(this.ids, this.ids[at] === after ? at + 1 : at);
    return picker.picked;
  }

  async remove(id: string) {
    if (!this.known.delete(id)) return;
    this.writer.forget(id);
    const at = sortedIndex(this.ids, id);
    if (this.ids[at] === id) this.ids.splice(at, 1);
    this.running.delete(id);
    this.files.delete(id);
    await rm(join(this.dir, `${id}.json`), { force: true });
    await this.index.delete(id);
  }

  async listRunning() {
    const jobs = await Promise.all([...this.running].map((id) => this.read(id)));
    return jobs.filter((j): j is Job => j !== undefined);
  }

  async put(job: Job) {
    if (!this.known.has(job.id)) {
      this.known.add(job.id);
      this.ids.push(job.id);
      if (this.ids.length > 1 && (this.ids.at(-2) as string) > job.id) this.ids.sort();
    }
    if (isUnfinished(job)) {
      this.running.add(job.id);
      // The document write waits for the index (above); both are asked for now, so puts are written in order.
      await Promise.all([this.index.add(job.id), this.writer.put(job.id, job)]);
    } else {
      this.running.delete(job.id);
      await this.writer.put(job.id, job);
      if (!this.running.has(job.id)) await this.index.delete(job.id);
    }
  }
}

/** Where `id` is in the sorted `ids`, or would be. */
function sortedIndex(ids: readonly string[], id: string): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((ids[mid] as string) < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** `log` gets one line when modes in the data dir had to be narrowed. */
export async function openLowdbStore(dataDir: string, log?: Logger): Promise<Store & { secret: Buffer }> {
  let lock: DataDirLock;
  try {
    await mkdir(dataDir, { recursive: true, mode: PRIVATE_DIR });
    lock = await DataDirLock.acquire(dataDir);
  } catch (err) {
    throw notWritable(dataDir, err);
  }
  try {
    const loaded: { docs?: LowDocuments } = {};
    const versioned = versionedDataDir(dataDir, loaded);
    // A store of a later release is refused before anything in it is touched (modes included).
    const found = await foundVersion(versioned);
    const narrowed = await narrowModes(dataDir);
    if (narrowed.length) {
      log?.warn('narrowed modes in the data dir: files 0600, directories 0700, readable by this user only', {
        dataDir,
        count: narrowed.length,
        changed: narrowed.slice(0, 20),
      });
    }
    const users = await load(join(dataDir, 'users.json'), { users: [] as User[] }, (d) => Array.isArray(d.users));
    const agents = await load(join(dataDir, 'agents.json'), { agents: [] as Agent[] }, (d) => Array.isArray(d.agents));
    const enrollments = await load(join(dataDir, 'enrollments.json'), { enrollments: [] as EnrollmentToken[] }, (d) =>
      Array.isArray(d.enrollments),
    );
    loaded.docs = { users, agents, enrollments };
    await upgradeStore(versioned, found, log);
    const sessions = await load<RevokedSessionsFile>(join(dataDir, 'sessions.json'), { revoked: {} }, (d) =>
      Boolean(d.revoked && typeof d.revoked === 'object'),
    );
    const jobs = new LowJobs(join(dataDir, 'jobs'), new UnfinishedIndex(dataDir));
    await jobs.open();
    const output = new FileOutput(join(dataDir, 'output'));
    const secret = await loadSecret(join(dataDir, 'secret.key'));
    const audit = new FileAuditLog(join(dataDir, 'audit.log'));
    await audit.open();
    const agentRepo = new LowAgents(agents);
    return {
      users: new LowUsers(users),
      agents: agentRepo,
      enrollments: new LowEnrollments(enrollments),
      sessions: new LowRevokedSessions(sessions),
      jobs,
      output,
      audit,
      secret,
      async close() {
        // An agent marked offline as the controller stops is written before the data dir is let go.
        await agentRepo.flush();
        await jobs.flush();
        await output.flush();
        await audit.close().catch(() => {});
        await lock.release();
      },
    };
  } catch (err) {
    await lock.release().catch(() => {});
    throw notWritable(dataDir, err);
  }
}

import type { Readable } from 'node:stream';
import type { Agent, AuditEntry, Job, JobStdin, User } from '../../domain/model.js';
import type { CommandProgress, CommandResult, ExecuteAck, ExecuteCommand, ResultAck } from '../../protocol/events.js';

export type { AuditEntry };

/** State behind interfaces (docs/architecture.md §2, §6): lowdb today, Redis for scale-out. */
export interface UserRepository {
  get(name: string): Promise<User | undefined>;
  list(): Promise<User[]>;
  put(user: User): Promise<void>;
  /**
   * Adds the user unless one of that name exists, atomically (controllers sharing a store may race for a name):
   * false, and nothing written, when it exists.
   */
  create(user: User): Promise<boolean>;
  remove(name: string): Promise<boolean>;
}

export interface AgentRepository {
  get(id: string): Promise<Agent | undefined>;
  getByName(name: string): Promise<Agent | undefined>;
  list(): Promise<Agent[]>;
  put(agent: Agent): Promise<void>;
  /**
   * Reads the agent named `name` and writes what `change` makes of it, with no other write in between (controllers
   * sharing a store race: an admin's label against the agent's own report). `change` may run again when another
   * write came first; returning undefined writes nothing. Resolves to what is stored.
   */
  update(name: string, change: (agent: Agent | undefined) => Agent | undefined): Promise<Agent | undefined>;
  remove(id: string): Promise<boolean>;
}

/** Which finished jobs retention or `jobs prune` removes (JobRepository.listExpired). */
export interface ExpiredQuery {
  keep?: number;
  olderThan?: string;
  limit: number;
  after?: string;
}

export interface JobRepository {
  get(id: string): Promise<Job | undefined>;
  /** Newest first. */
  list(options: { limit: number; before?: string }): Promise<Job[]>;
  /** Unfinished jobs, for reconciliation after a restart. */
  listRunning(): Promise<Job[]>;
  /** Resolves once the job is durably written (writes may be coalesced). */
  put(job: Job): Promise<void>;
  /**
   * Finished jobs beyond the newest `keep`, or created before `olderThan` (retention): at most `limit` of them,
   * oldest first, in time bounded by `limit` rather than by the history. `after` (with `olderThan` only) starts past
   * that id: a cursor for walking what would be removed without removing it (`jobs prune --dry-run`).
   */
  listExpired(options: ExpiredQuery): Promise<string[]>;
  remove(id: string): Promise<void>;
}

export type OutputStream = 'stdout' | 'stderr';
export interface OutputStore {
  append(jobId: string, runId: string, stream: OutputStream, data: string | Buffer): Promise<void>;
  /**
   * The output from byte `start` (default 0) to its end, streamed (large outputs are never read into memory at once).
   * A `start` at or past the end gives an empty stream.
   */
  openRead(jobId: string, runId: string, stream: OutputStream, start?: number): Promise<Readable>;
  /** Removes a job's output (retention). */
  removeJob(jobId: string): Promise<void>;
  /** Cuts a file back to `bytes` (after a crash, to what the job document recorded). */
  truncate(jobId: string, runId: string, stream: OutputStream, bytes: number): Promise<void>;
}

/**
 * A job's piped standard input (docs/architecture.md §3.9), kept with the job until it is removed: a private file per
 * job in the data dir, or a Redis key any controller of the cluster reads. Appends to one job are applied in order.
 */
export interface StdinStore {
  /**
   * Stores `data` at `offset` and resolves to the size stored. What is already stored is not written again (an
   * upload resumed after a lost ack); an `offset` past the end stores nothing. Never grows past `maxBytes`:
   * resolves to -1 then, storing nothing.
   */
  append(jobId: string, offset: number, data: Buffer, maxBytes: number): Promise<number>;
  /** Marks the end (`ended`), or the reason the runs still reading it fail (`error`). */
  finish(jobId: string, outcome: { ended: true } | { error: string }): Promise<void>;
  /** Size and end as stored; a job without stored stdin has 0 bytes, not ended. */
  state(jobId: string): Promise<JobStdin>;
  /** Up to `max` bytes from `offset` (fewer at the end). */
  read(jobId: string, offset: number, max: number): Promise<Buffer>;
  remove(jobId: string): Promise<void>;
}

export interface Store {
  users: UserRepository;
  agents: AgentRepository;
  jobs: JobRepository;
  output: OutputStore;
  audit: AuditLog;
  enrollments: EnrollmentRepository;
  sessions: RevokedSessions;
  /** Writes what is pending and releases the store. */
  close(): Promise<void>;
}

/** How the job service reaches connected agents. */
export interface AgentGateway {
  isConnected(agentId: string): boolean;
  execute(agentId: string, command: ExecuteCommand): Promise<ExecuteAck>;
  cancel(agentId: string, runId: string): Promise<void>;
}

/** How the job service tells subscribed clients what happens. */
export interface ClientNotifier {
  progress(jobId: string, agent: string, progress: CommandProgress): void;
  runUpdate(job: Job, runId: string): void;
  result(jobId: string, agent: string, result: CommandResult): void;
  jobFinished(job: Job): void;
}

export interface TokenClaims {
  sub: string;
  role: User['role'];
  iat: number;
  exp: number;
  jti: string;
  ver: number;
  /** The user's epoch when the token was issued; absent for users stored before epochs. */
  epoch?: string;
}
/** A refresh token's claims: the access token's, and the login session it belongs to. */
export type RefreshClaims = TokenClaims & { sid: string };
export interface TokenService {
  issue(sub: string, role: User['role'], ver: number, epoch?: string): Promise<{ token: string; expiresIn: number }>;
  /** Throws TokenError with code ERR_TOKEN_EXPIRED or ERR_TOKEN_INVALID; a refresh token is invalid here. */
  verify(token: string): Promise<TokenClaims>;
  /** A refresh token (its own audience: never an access token) for session `sid`, valid `ttlSeconds`. */
  issueRefresh(
    claims: { sub: string; role: User['role']; ver: number; epoch?: string; sid: string },
    ttlSeconds: number,
  ): Promise<string>;
  /** Throws TokenError as `verify`; an access token is invalid here. */
  verifyRefresh(token: string): Promise<RefreshClaims>;
}

/**
 * Login sessions ended by `ogent logout` (the `sid` of their refresh tokens), each kept until its refresh token expires:
 * in a small file for one controller, in Redis (a key with a TTL) for a cluster, so a logout holds on every controller.
 */
export interface RevokedSessions {
  /** Records `sid` as revoked until `until` (epoch ms, its refresh token's expiry). */
  revoke(sid: string, until: number): Promise<void>;
  isRevoked(sid: string): Promise<boolean>;
}

/**
 * Login attempts counted per key (a user name, a client address) in fixed windows: in this process for one
 * controller, in Redis for a cluster (docs/architecture.md §7.3), so every controller spends the same budget.
 */
export interface LoginCounters {
  /**
   * Counts one attempt on every key, atomically, unless one of them has used up its limit in its window: resolves to 0
   * when counted, else to the milliseconds until that key's window ends (and nothing is counted).
   */
  take(keys: Array<{ key: string; limit: number }>, windowMs: number): Promise<number>;
  /** Gives back an attempt counted on each key (it succeeded). */
  refund(keys: string[]): Promise<void>;
}

export interface Identity {
  name: string;
  role: User['role'];
  /** The client address the request came from (HTTP or Socket.IO), for the audit log. */
  from?: string;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** An OpenAI-compatible chat-completions endpoint (README, AI command processing): OpenAI, Ollama, llama.cpp server, vLLM. */
export interface ChatModel {
  readonly model: string;
  /** The model's reply, asked for as one JSON object (not yet parsed or trusted). Throws AiError. */
  completeJson(messages: ChatMessage[]): Promise<string>;
}

/** Why the AI endpoint gave no usable reply; callers switch on `code`. */
export class AiError extends Error {
  override name = 'AiError';
  constructor(
    readonly code: 'ERR_AI_UNREACHABLE' | 'ERR_AI_TIMEOUT' | 'ERR_AI_HTTP' | 'ERR_AI_RESPONSE',
    message: string,
  ) {
    super(message);
  }
}

/** A join token for `agent run --join-token` (docs/architecture.md §7.4): only its hash is stored. */
export interface EnrollmentToken {
  id: string;
  /** sha256 of the secret, hex. */
  hash: string;
  createdBy: string;
  createdAt: string;
  expiresAt: string;
  /** How many agents may still join with it. */
  usesLeft: number;
  /** Given to every agent enrolled with it; they win over the agent's own (`enroll-token --label`). */
  labels?: Record<string, string>;
}
export interface EnrollmentRepository {
  put(token: EnrollmentToken): Promise<void>;
  getByHash(hash: string): Promise<EnrollmentToken | undefined>;
  list(): Promise<EnrollmentToken[]>;
  /**
   * Atomically takes one use of the token with this hash if it has uses left and has not expired at `now`;
   * resolves to the token after the use, or undefined when it cannot be used.
   */
  consume(hash: string, now: string): Promise<EnrollmentToken | undefined>;
  remove(id: string): Promise<boolean>;
  /** Removes every token that expired before `before` (ISO time) in one write; resolves to how many. */
  removeExpiredBefore(before: string): Promise<number>;
}

export interface AuditLog {
  append(entry: AuditEntry): Promise<void>;
  /** Oldest first; `since` and `limit` filter (the newest `limit` entries). */
  read(options: { since?: string; limit?: number; action?: string }): Promise<AuditEntry[]>;
}

/** Another controller's job service, reached through the cluster (scale-out, `--redis`). */
export interface RemoteJobs {
  progress(agentName: string, progress: CommandProgress): Promise<void>;
  result(agentName: string, result: CommandResult): Promise<ResultAck>;
  cancel(jobId: string, actor: Identity): Promise<Job>;
}

/**
 * Scale-out (docs/architecture.md §5.1): the controller that creates a job owns it — a lease in Redis it renews while the job runs —
 * and does its scheduling (dispatch windows, lost runs); the others forward what they receive about it to the owner.
 * When an owner stops renewing, another controller takes the lease and picks the job up from the store. Absent in
 * the embedded (lowdb) mode, where one controller owns everything.
 */
export interface JobCluster {
  /** Takes the lease of `jobId` if nobody holds it; resolves to whether this controller now holds it. */
  claim(jobId: string): Promise<boolean>;
  /** Extends the leases this controller holds (called every second); resolves to the ones it lost. */
  renew(jobIds: string[]): Promise<string[]>;
  release(jobId: string): Promise<void>;
  /** The owner of a job: 'self', another controller's jobs, or undefined when nobody holds its lease. */
  ownerOf(jobId: string): Promise<'self' | RemoteJobs | undefined>;
  /** Unfinished jobs whose owner is gone (their lease expired). */
  orphans(): Promise<string[]>;
  /**
   * True for the one controller that holds `task`'s lease for the next `ttlMs` (retention runs once); the holder
   * asking again renews it.
   */
  lead(task: string, ttlMs: number): Promise<boolean>;
  /** Gives up `task`'s lease if this controller holds it (a round is over, or the controller stops). */
  letGo(task: string): Promise<void>;
  /** Whether the shared store is usable; when not, new jobs are refused with 503 and this reason. */
  unavailable(): string | undefined;
}

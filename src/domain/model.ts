/** The words of the domain (docs/architecture.md §2): agent, job, run, user. Pure data, no I/O. */

export const ROLES = ['admin', 'operator', 'viewer', 'agent'] as const;
export type Role = (typeof ROLES)[number];

export const EXECUTORS = ['shell', 'exec', 'script', 'ssh'] as const;
export type Executor = (typeof EXECUTORS)[number];

export const TERMINAL_RUN_STATUSES = [
  'succeeded',
  'failed',
  'timed_out',
  'cancelled',
  'rejected',
  'lost',
  'unreachable',
  'skipped',
] as const;
export type TerminalRunStatus = (typeof TERMINAL_RUN_STATUSES)[number];
export const RUN_STATUSES = ['queued', 'dispatched', 'running', ...TERMINAL_RUN_STATUSES] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export type JobStatus = 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface User {
  name: string;
  role: Role;
  /** scrypt hash, `scrypt$N$r$p$salt$hash` in base64 parts. */
  passwordHash: string;
  createdAt: string;
  /** Carried in every token as `ver`; raising it revokes the tokens issued before. */
  tokenVersion?: number;
  /**
   * Random, set when the user is created and carried in every token, so a name removed and created again never
   * revives an older token. Absent on users stored before epochs existed (their tokens carry none).
   */
  epoch?: string;
}

export interface AgentInfo {
  name: string;
  hostname: string;
  platform: string;
  arch: string;
  release: string;
  cpus: number;
  memoryBytes: number;
  uptimeS: number;
  version: string;
  labels: Record<string, string>;
  executors: string[];
  /** The operating system by name (`Debian GNU/Linux 12 (bookworm)`, `macOS`); Linux's os-release ID in `distro`. */
  os?: string;
  distro?: string;
  /** Names of the agentless hosts this agent reaches with the `ssh` executor (`agent run --ssh-host`). */
  sshHosts?: string[];
  /** The agent's command policy (`agent run --allow/--deny/--policy`); empty lists: everything may run. */
  policy?: { allow: string[]; deny: string[] };
  /** The user commands run as (`agent run --run-as`); absent: the agent's own user. */
  runAs?: string;
  /** What this agent's release can do (domain/capabilities.ts); absent: a first-release agent, which can do none. */
  capabilities?: string[];
}

/**
 * The facts of `agent_info` that route jobs (selectors, ssh hosts): pinned like the agent's labels (docs/architecture.md §7.8).
 * Not `version`: it changes at every upgrade (a fleet upgraded would wait for 500 accepts), and what an agent can
 * take is decided by the version it runs, not by one an admin accepted.
 */
export const ROUTING_FACTS = ['hostname', 'platform', 'arch', 'os', 'distro', 'sshHosts'] as const;
export type RoutingFact = (typeof ROUTING_FACTS)[number];
/** A routing fact as reported; null when the agent no longer reports it. */
export type RoutingFacts = Partial<{ [K in RoutingFact]: AgentInfo[K] | null }>;

/** What an agent reports that differs from what is pinned: shown, routes nothing until an admin accepts it. */
export interface PendingChange {
  /** The agent's whole set of labels as it reports them now, when it differs from the pinned one. */
  labels?: Record<string, string>;
  /** The routing facts that differ, as reported now. */
  facts?: RoutingFacts;
  /** When the agent first reported it. */
  since: string;
}

export interface Agent {
  id: string;
  name: string;
  status: 'online' | 'offline';
  /** What selectors match: the pinned reported labels with the admin's over them. */
  labels: Record<string, string>;
  /** What the agent reported, with the routing facts as pinned. */
  info: AgentInfo | null;
  lastSeen: string | null;
  /** The agent's own labels, pinned at its first registration (or the last accept); absent in older stores: `labels`. */
  reportedLabels?: Record<string, string>;
  /** Labels from its join token and `ogent agents label`: they win over the reported ones. */
  adminLabels?: Record<string, string>;
  pending?: PendingChange;
}

export interface Run {
  id: string;
  agent: { id: string; name: string };
  status: RunStatus;
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  stdoutTruncated?: boolean;
  stderrTruncated?: boolean;
  /** Highest `command_progress` seq stored; clients use it to resume a stream without repeats. */
  seq: number;
  /** Bytes of full output stored (the output files hold exactly this much). */
  stdoutBytes?: number;
  stderrBytes?: number;
  /** When the controller sent it to the agent. */
  dispatchedAt?: string;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  error?: string;
  /** The agent that runs it when the target is not an agent itself (an ssh host behind it). */
  via?: { id: string; name: string };
  /** This run's command when it differs from the job's (AI jobs over several OS families). */
  command?: string;
}

export type Summary = Record<'total' | TerminalRunStatus, number>;

export interface Job {
  id: string;
  command: string;
  executor: Executor;
  target: string[];
  timeoutMs: number;
  env?: Record<string, string>;
  cwd?: string;
  /** `exec`: the argv; `script`: the script's arguments. */
  args?: string[];
  /** `script`: the file's content. */
  script?: string;
  /** `ssh` to a host given on the command line (`--ssh-target`), through the agent `via` selects. */
  sshTarget?: string;
  via?: string[];
  /** Set when AI generated or reviewed the command (README, AI command processing). */
  ai?: JobAi;
  /** At most this many runs in flight (resolved from `--max-concurrency` when the job was created). */
  maxConcurrency?: number;
  /** Runs that may not succeed before the rest are skipped (resolved from `--max-errors`). */
  maxErrors?: number;
  /** Offline agents' runs wait this long after creation before they are unreachable. */
  deliverWithinMs?: number;
  /** `--canary`: the first this many runs (by target name) go first; the rest only if all of them succeeded. */
  canary?: number;
  /** `--batch-wait`: runs start in batches of `maxConcurrency`, this long after the last of a batch ended. */
  batchWaitMs?: number;
  /** `--batch-wait`: when the next batch may start (controller's clock); set once a batch is over. */
  nextBatchAt?: string;
  /** `ogent jobs rerun`: the job this one runs again. */
  rerunOf?: string;
  /** Capabilities its agents must have (domain/capabilities.ts); absent: none beyond the first release's. */
  requires?: string[];
  /** Piped standard input (`exec` with stdin not a terminal): how much is stored and whether it ended; not the bytes. */
  stdin?: JobStdin;
  status: JobStatus;
  cancelRequested?: boolean;
  createdBy: string;
  createdAt: string;
  finishedAt: string | null;
  runs: Run[];
  summary: Summary;
}

/** The state of a job's stored standard input (docs/architecture.md §3.9). */
export interface JobStdin {
  bytes: number;
  /** The uploader sent its end: every run reads `bytes` bytes, then end-of-file. */
  ended: boolean;
  /** Why the runs still reading it fail (the upload stopped before its end, or it was too large). */
  error?: string;
}

export const RISKS = ['low', 'medium', 'high'] as const;
export type Risk = (typeof RISKS)[number];

/** What the AI proposed (or found, reviewing a given command) for the targets of one OS family. */
export interface AiProposal {
  /** The OS family, as the model was told (`linux/debian: Debian GNU/Linux 12 (bookworm)`). */
  os: string;
  /** Names of the targets it is for. */
  agents: string[];
  command: string;
  explanation: string;
  risk: Risk;
  risks: string[];
}

/** The AI record of a job: what was asked, what came back, who confirmed it and how. */
export interface JobAi {
  mode: 'generate' | 'review';
  /** `generate`: the user's request in their words. */
  request?: string;
  model: string;
  proposals: AiProposal[];
  confirmedBy: string;
  confirmedAt: string;
  /** `prompt`: answered yes on a terminal; `yes`: the `--yes` flag. */
  confirmedWith: 'prompt' | 'yes';
  allowHighRisk: boolean;
}

/** A proposal waiting for confirmation (`POST /api/v1/plans`); it runs with `POST /api/v1/plans/:id/run`. */
export interface Plan {
  id: string;
  mode: JobAi['mode'];
  request?: string;
  model: string;
  executor: Executor;
  target: string[];
  proposals: AiProposal[];
  /** The highest risk of its proposals. */
  risk: Risk;
  createdBy: string;
  createdAt: string;
  expiresAt: string;
}

/** One line of the audit log (docs/architecture.md §7.6): who, from where, what, which agents, when. */
export interface AuditEntry {
  at: string;
  /** User or agent name; "-" when the actor is unknown (a failed login names the user it tried). */
  actor: string;
  /** Client address. */
  from?: string;
  /**
   * e.g. login, login_failed, job_create, job_cancel, user_add, user_remove, user_passwd, agent_enroll, agent_remove,
   * enroll_token, enroll_token_revoke, jobs_prune.
   */
  action: string;
  ok: boolean;
  jobId?: string;
  agents?: string[];
  target?: string;
  detail?: string;
}

/** The words of the domain (DESIGN §1): agent, job, run, user. Pure data, no I/O. */

export const ROLES = ['admin', 'operator', 'viewer', 'agent'] as const;
export type Role = (typeof ROLES)[number];

export const EXECUTORS = ['shell'] as const;
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
}

export interface Agent {
  id: string;
  name: string;
  status: 'online' | 'offline';
  labels: Record<string, string>;
  info: AgentInfo | null;
  lastSeen: string | null;
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
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  error?: string;
}

export type Summary = Record<'total' | TerminalRunStatus, number>;

export interface Job {
  id: string;
  command: string;
  executor: Executor;
  target: string[];
  timeoutMs: number;
  env?: Record<string, string>;
  status: JobStatus;
  cancelRequested?: boolean;
  createdBy: string;
  createdAt: string;
  finishedAt: string | null;
  runs: Run[];
  summary: Summary;
}

import { isLimit, parseLimit, type Limit } from '../domain/limits.js';
import { EXECUTORS, type AgentInfo, type Job, type Run, type RunStatus } from '../domain/model.js';
import type { ErrorCode } from './error-codes.js';
import {
  array,
  bool,
  int,
  nullable,
  object,
  oneOf,
  optional,
  PayloadError,
  processText,
  record,
  str,
  text,
  type Check,
} from './validate.js';
import { STDIN_EV, type StdinAck, type StdinChunk } from './stdin.js';

/** Event names fixed by the original design (docs/protocol.md §4). */
export const EV = {
  agentInfo: 'agent_info',
  executeCommand: 'execute_command',
  commandProgress: 'command_progress',
  commandResult: 'command_result',
  cancelCommand: 'cancel_command',
  jobCreate: 'job_create',
  jobSubscribe: 'job_subscribe',
  jobUnsubscribe: 'job_unsubscribe',
  jobUpdate: 'job_update',
  jobFinished: 'job_finished',
  serverShutdown: 'server_shutdown',
  jobResync: 'job_resync',
} as const;

export const NAMESPACE = { agents: '/agents', clients: '/clients' } as const;

/** Bounds on what one payload may carry (README, Security). Each has a test (test/unit/protocol-limits.test.ts). */
export const LIMITS = {
  /** A command, a script, one argument (characters). */
  commandBytes: 64 * 1024,
  /** The agent sends output once it has about this much (or after 25 ms). */
  chunkBytes: 256 * 1024,
  /** One `command_progress` carries at most this many bytes (a binary attachment) or characters (a string). */
  progressBytes: 512 * 1024,
  errorChars: 4096,
  /** One Socket.IO message (bytes); a bigger one closes the connection. */
  maxHttpBufferSize: 1024 * 1024,
  /** One REST request body (bytes); a bigger one gets 413. */
  maxBodyBytes: 1024 * 1024,
  /** Agent and user names. */
  nameChars: 63,
  labels: 64,
  labelKeyChars: 63,
  labelValueChars: 253,
  /** Selectors in `target` or `via`, and the length of each. */
  selectors: 64,
  selectorChars: 1024,
  envVars: 128,
  envValueChars: 32 * 1024,
  args: 1024,
  cwdChars: 4096,
} as const;

const NAME = new RegExp(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,${LIMITS.nameChars - 1}}$`);
export const agentNameCheck = str({ min: 1, max: LIMITS.nameChars, pattern: NAME });
const labelKey = new RegExp(`^[A-Za-z0-9_./-]{1,${LIMITS.labelKeyChars}}$`);
export const labelKeyCheck = str({ min: 1, max: LIMITS.labelKeyChars, pattern: labelKey });
export const labelsCheck = record(str({ max: LIMITS.labelValueChars, pattern: /^[^,=\s]*$/ }), {
  max: LIMITS.labels,
  key: labelKey,
});
const envCheck = record(processText({ max: LIMITS.envValueChars }), {
  max: LIMITS.envVars,
  key: /^[A-Za-z_][A-Za-z0-9_]*$/,
});

export const agentInfoCheck: Check<AgentInfo> = object({
  name: agentNameCheck,
  hostname: str({ max: 255 }),
  platform: str({ max: 64 }),
  arch: str({ max: 64 }),
  release: str({ max: 255 }),
  cpus: int({ min: 0, max: 1_000_000 }),
  memoryBytes: int({ min: 0 }),
  uptimeS: int({ min: 0 }),
  version: str({ max: 64 }),
  labels: labelsCheck,
  executors: array(str({ max: 32 }), { max: 16 }),
  os: optional(str({ max: 255 })),
  distro: optional(str({ max: 64 })),
  sshHosts: optional(array(agentNameCheck, { max: 1024 })),
  policy: optional(
    object({
      allow: array(str({ max: 1024 }), { max: 256 }),
      deny: array(str({ max: 1024 }), { max: 256 }),
    }),
  ),
  runAs: optional(str({ min: 1, max: 64 })),
  capabilities: optional(array(str({ min: 1, max: 32 }), { max: 64 })),
});

export interface ExecuteCommand {
  runId: string;
  jobId: string;
  command: string;
  executor: string;
  timeoutMs: number;
  env?: Record<string, string>;
  cwd?: string;
  /** `exec`: the argv (no shell); `script`: the script's arguments. */
  args?: string[];
  /** `script`: the file's content, starting with a shebang line. */
  script?: string;
  /** `ssh`: the name of a host configured on the agent (`agent run --ssh-host NAME=…`). */
  sshHost?: string;
  /** `ssh`: a destination, `[user@]host[:port]` (`exec --ssh-target`). */
  sshTarget?: string;
  /** Capabilities the agent must have to run it as meant; an agent that does not know one refuses the command. */
  requires?: string[];
  /** The process reads the job's stdin, pulled with `stdin_read` (docs/protocol.md §10); absent: end-of-file at once. */
  stdin?: boolean;
}
const argsCheck = array(processText({ max: LIMITS.commandBytes }), { max: LIMITS.args });
/** A shell's or ssh's argument (and a script's name shown in its command): no NUL byte either. */
const commandCheck = processText({ min: 1, max: LIMITS.commandBytes });
const cwdCheck = processText({ min: 1, max: LIMITS.cwdChars });
const scriptCheck = str({ min: 1, max: LIMITS.commandBytes });
const sshTargetCheck = processText({ min: 1, max: 255, pattern: /^[^-\s]\S*$/ });
const idCheck = str({ min: 1, max: 64, pattern: /^[A-Za-z0-9_-]+$/ });
export const executeCommandCheck: Check<ExecuteCommand> = object({
  runId: idCheck,
  jobId: idCheck,
  command: commandCheck,
  executor: str({ max: 32 }),
  timeoutMs: int({ min: 1, max: 30 * 86_400_000 }),
  env: optional(envCheck),
  cwd: optional(processText({ max: LIMITS.cwdChars })),
  args: optional(argsCheck),
  script: optional(scriptCheck),
  sshHost: optional(agentNameCheck),
  sshTarget: optional(sshTargetCheck),
  requires: optional(array(str({ min: 1, max: 32 }), { max: 64 })),
  stdin: optional(bool),
});
export interface ExecuteAck {
  accepted: boolean;
  reason?: string;
}

export interface CommandProgress {
  runId: string;
  seq: number;
  stream: 'stdout' | 'stderr';
  /** The output's raw bytes as a binary attachment (a Buffer), cut between UTF-8 characters; a string is accepted too. */
  data: string | Buffer;
}
/** How many output bytes a `command_progress` carries (a string from an older agent counts as its UTF-8). */
export const progressBytes = (data: string | Buffer): number =>
  typeof data === 'string' ? Buffer.byteLength(data) : data.length;

export const commandProgressCheck: Check<CommandProgress> = object({
  runId: idCheck,
  seq: int({ min: 1 }),
  stream: oneOf(['stdout', 'stderr'] as const),
  data: text({ max: LIMITS.progressBytes }),
});

export type ResultStatus = Extract<RunStatus, 'succeeded' | 'failed' | 'timed_out' | 'cancelled' | 'rejected' | 'lost'>;
export const RESULT_STATUSES: readonly ResultStatus[] = [
  'succeeded',
  'failed',
  'timed_out',
  'cancelled',
  'rejected',
  'lost',
];
export interface CommandResult {
  runId: string;
  status: ResultStatus;
  exitCode: number | null;
  signal: string | null;
  startedAt: string;
  finishedAt: string;
  error?: string;
}
const isoCheck: Check<string> = (v, path) => {
  const text = str({ max: 40, pattern: /^\d{4}-\d{2}-\d{2}T/ })(v, path);
  if (Number.isNaN(Date.parse(text))) throw new PayloadError(`${path} is not a valid date`);
  return text;
};
export const commandResultCheck: Check<CommandResult> = object({
  runId: idCheck,
  status: oneOf(RESULT_STATUSES),
  exitCode: nullable(int({ min: -1, max: 255 })),
  signal: nullable(str({ max: 32 })),
  startedAt: isoCheck,
  finishedAt: isoCheck,
  error: optional(str({ max: LIMITS.errorChars })),
});
export interface ResultAck {
  ok: boolean;
  error?: string;
}

export const runIdPayloadCheck = object({ runId: idCheck });

/** `POST /api/v1/jobs` body, also `job_create` on /clients. */
export interface JobRequest {
  /** Required by `shell` and `ssh`; `exec` and `script` take `args`/`script` instead (domain/job-spec.ts). */
  command?: string;
  target: string[];
  executor: (typeof EXECUTORS)[number];
  timeoutMs: number;
  env?: Record<string, string>;
  cwd?: string;
  args?: string[];
  script?: string;
  /** `script`: the file's name, shown as the job's command. */
  scriptName?: string;
  /** `ssh`: a destination `[user@]host[:port]` reached through the one agent `via` selects. */
  sshTarget?: string;
  via?: string[];
  /** At most this many runs in flight (a rolling window). */
  maxConcurrency?: Limit;
  /** Once more runs than this have not succeeded, the runs not started are skipped. */
  maxErrors?: Limit;
  /** Offline agents' runs wait this long for their agent instead of being unreachable at once. */
  deliverWithinMs?: number;
  /** The first this many runs (by target name) go first; the rest start only if all of them succeeded. */
  canary?: number;
  /** With `maxConcurrency` only: runs start in batches, this long after the last run of a batch ended. */
  batchWaitMs?: number;
  /** Bytes of stdin follow over `/clients` (`stdin_data`, `stdin_end`; docs/protocol.md §10). */
  stdin?: boolean;
  /** Set by the controller for `jobs rerun` (never taken from a client's request): the job this one runs again. */
  rerunOf?: string;
}
const selectorCheck = array(str({ min: 1, max: LIMITS.selectorChars }), { max: LIMITS.selectors });
/** `10` or `"25%"` (domain/limits.ts). */
const limitCheck: Check<Limit> = (v, path) => {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 10_000_000) return v;
  if (typeof v === 'string' && isLimit(v)) return parseLimit(v, path);
  throw new PayloadError(`${path} must be a count (10) or a percentage ("25%")`);
};

const jobRequestFields: Check<JobRequest> = object({
  command: optional(commandCheck),
  target: selectorCheck,
  executor: (v, p) => (v === undefined ? 'shell' : oneOf(EXECUTORS)(v, p)),
  timeoutMs: (v, p) => (v === undefined ? 300_000 : int({ min: 1, max: 30 * 86_400_000 })(v, p)),
  env: optional(envCheck),
  cwd: optional(cwdCheck),
  args: optional(argsCheck),
  script: optional(scriptCheck),
  scriptName: optional(processText({ min: 1, max: 255 })),
  sshTarget: optional(sshTargetCheck),
  via: optional(selectorCheck),
  maxConcurrency: optional(limitCheck),
  maxErrors: optional(limitCheck),
  deliverWithinMs: optional(int({ min: 1, max: 30 * 86_400_000 })),
  canary: optional(int({ min: 1, max: 10_000_000 })),
  batchWaitMs: optional(int({ min: 1, max: 30 * 86_400_000 })),
  stdin: optional(bool),
});

/** The fields, and how they go together: `batchWaitMs` spaces the batches of `maxConcurrency`, so needs it. */
export const jobRequestCheck: Check<JobRequest> = (v, path) => {
  const request = jobRequestFields(v, path);
  if (request.batchWaitMs !== undefined && request.maxConcurrency === undefined) {
    throw new PayloadError(`${path ? `${path}.` : ''}batchWaitMs needs maxConcurrency (the size of a batch)`);
  }
  return request;
};

export const jobIdPayloadCheck = object({ jobId: idCheck });

/** Ack of `job_create` / `job_subscribe`: the job document as it is now, or an error. */
export type JobAck = { ok: true; job: Job } | { ok: false; error: ErrorCode; message: string };

/** A run without its output. */
export type RunBrief = Omit<Run, 'stdout' | 'stderr'>;
export const briefOf = ({ stdout: _o, stderr: _e, ...brief }: Run): RunBrief => brief;

export interface JobUpdate {
  jobId: string;
  run: RunBrief;
}

/** `held`: what the agent reported differently from what is pinned (`labels`, fact names): routes nothing yet. */
export interface AgentInfoAck {
  ok: boolean;
  error?: string;
  /** `version_unsupported`: refused for the agent's version (protocol/version.ts); retrying cannot help. */
  code?: string;
  held?: string[];
}

export interface AgentsToServer {
  [EV.agentInfo]: (info: unknown, ack: (r: AgentInfoAck) => void) => void;
  [EV.commandProgress]: (p: unknown) => void;
  [EV.commandResult]: (r: unknown, ack: (r: ResultAck) => void) => void;
  [STDIN_EV.read]: (r: unknown, ack: (r: StdinChunk) => void) => void;
}
export interface ServerToAgents {
  [EV.executeCommand]: (c: ExecuteCommand, ack: (r: ExecuteAck) => void) => void;
  [EV.cancelCommand]: (c: { runId: string }, ack: (r: { ok: boolean }) => void) => void;
  [EV.serverShutdown]: (n: ServerShutdown) => void;
}
export interface ClientsToServer {
  [EV.jobCreate]: (req: unknown, ack: (r: JobAck) => void) => void;
  [EV.jobSubscribe]: (req: unknown, ack: (r: JobAck) => void) => void;
  [EV.jobUnsubscribe]: (req: unknown) => void;
  [STDIN_EV.data]: (req: unknown, ack: (r: StdinAck) => void) => void;
  [STDIN_EV.end]: (req: unknown, ack: (r: StdinAck) => void) => void;
}
export interface ServerToClients {
  [EV.commandProgress]: (p: CommandProgress & { jobId: string; agent: string }) => void;
  [EV.jobUpdate]: (u: JobUpdate) => void;
  [EV.commandResult]: (r: CommandResult & { jobId: string; agent: string }) => void;
  [EV.jobFinished]: (job: Job) => void;
  [EV.serverShutdown]: (n: ServerShutdown) => void;
  /**
   * This client fell too far behind: the controller stopped sending it the job's live output. Read what is missing
   * from the stored output, then `job_subscribe` again to get live output again (duplicates are told apart by seq).
   */
  [EV.jobResync]: (n: { jobId: string }) => void;
}
/** Sent to every connection just before a graceful shutdown closes it; connections then retry as usual. */
export interface ServerShutdown {
  reason: string;
}

import type { Agent, RunStatus } from '../domain/model.js';
import { labelKeyCheck, labelsCheck, LIMITS } from './events.js';
import { array, object, optional } from './validate.js';

/** `GET /api/v1/agents/:id`: the agent and, while it is connected, where from and since when. */
export interface AgentConnection {
  address: string;
  since: string;
  /** Over TLS. */
  secure: boolean;
}
export type AgentDetails = Agent & { connection?: AgentConnection | null };

/**
 * An agent as `GET /api/v1/agents` lists it: the fields of docs/protocol.md §2.2.1, and `pending` when it reports a change not accepted
 * yet (`agents` marks it); `GET /api/v1/agents/:id` has the rest (`reportedLabels`, `adminLabels`).
 */
export const listedAgent = ({ id, name, status, labels, info, lastSeen, pending }: Agent): Agent => ({
  id,
  name,
  status,
  labels,
  info,
  lastSeen,
  ...(pending ? { pending } : {}),
});

/** `GET /api/v1/agents/:id/runs`: one run of that agent (newest first). */
export interface AgentRunSummary {
  jobId: string;
  runId: string;
  command: string;
  status: RunStatus;
  exitCode: number | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
}

/** `GET /api/v1/enroll-tokens` (newest first) and `DELETE …/:id`: a join token without its secret or hash. */
export interface JoinTokenInfo {
  id: string;
  createdBy: string;
  createdAt: string;
  expiresAt: string;
  /** How many agents may still enroll with it. */
  usesLeft: number;
  state: 'active' | 'expired' | 'used_up';
  /** Given to every agent enrolled with it (`enroll-token --label`). */
  labels?: Record<string, string>;
}

/** `POST /api/v1/agents/:id/labels` (admin): labels to set (they win over the agent's own) and keys to remove. */
export const agentLabelsCheck = object({
  set: optional(labelsCheck),
  remove: optional(array(labelKeyCheck, { max: LIMITS.labels })),
});

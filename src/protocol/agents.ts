import type { Agent, RunStatus } from '../domain/model.js';

/** `GET /api/v1/agents/:id`: the agent and, while it is connected, where from and since when. */
export interface AgentConnection {
  address: string;
  since: string;
  /** Over TLS. */
  secure: boolean;
}
export type AgentDetails = Agent & { connection?: AgentConnection | null };

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

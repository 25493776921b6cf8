import { Readable } from 'node:stream';
import type { Agent, AuditEntry, Job } from '../domain/model.js';
import type { AgentDetails, AgentRunSummary, JoinTokenInfo } from '../protocol/agents.js';
import type { JobRequest } from '../protocol/events.js';
import type { JobBrief } from '../protocol/job-brief.js';
import type { RerunBody } from '../protocol/plans.js';
import type { Session } from './credentials.js';
import { apiError, openStream, request } from './http.js';

/** The REST API (docs/protocol.md §2) as the CLI commands use it. */
export class ApiClient {
  constructor(private readonly session: Session) {}

  get controller(): string {
    return this.session.controller;
  }

  private async call<T>(method: string, path: string, what: string, body?: unknown): Promise<T> {
    const token = await this.session.token();
    const res = await request<T>(this.session.controller, path, {
      method,
      token,
      body,
      ca: this.session.ca,
      timeoutMs: this.session.timeoutMs,
    });
    if (res.status < 200 || res.status >= 300) throw apiError(res.status, res.body as never, what);
    return res.body;
  }

  async agents(): Promise<Agent[]> {
    return (await this.call<{ agents: Agent[] }>('GET', '/api/v1/agents', 'list agents')).agents;
  }
  agent(idOrName: string): Promise<AgentDetails> {
    return this.call('GET', `/api/v1/agents/${encodeURIComponent(idOrName)}`, 'show agent');
  }
  /** The agent's newest runs, newest first. */
  async agentRuns(idOrName: string, limit: number): Promise<AgentRunSummary[]> {
    const path = `/api/v1/agents/${encodeURIComponent(idOrName)}/runs?limit=${limit}`;
    return (await this.call<{ runs: AgentRunSummary[] }>('GET', path, 'list agent runs')).runs;
  }
  removeAgent(idOrName: string): Promise<Agent> {
    return this.call('DELETE', `/api/v1/agents/${encodeURIComponent(idOrName)}`, 'remove agent');
  }
  /** Sets labels that win over the agent's own, and removes labels by key (admin). */
  labelAgent(idOrName: string, set: Record<string, string>, remove: string[]): Promise<Agent> {
    const path = `/api/v1/agents/${encodeURIComponent(idOrName)}/labels`;
    return this.call('POST', path, 'label agent', { set, remove });
  }
  /** Takes the labels and facts the agent reports now, held since they differed from the pinned ones (admin). */
  acceptAgent(idOrName: string): Promise<Agent> {
    return this.call('POST', `/api/v1/agents/${encodeURIComponent(idOrName)}/accept`, 'accept agent', {});
  }
  /** A join token for `agent run --join-token` (admin); the secret is in the answer only. */
  enrollToken(
    ttlSeconds: number,
    uses: number,
    labels: Record<string, string> = {},
  ): Promise<{ id: string; token: string; expiresAt: string; uses: number; labels?: Record<string, string> }> {
    return this.call('POST', '/api/v1/enroll-tokens', 'issue join token', { ttlSeconds, uses, labels });
  }
  /** Every join token, newest first, without its secret (admin). */
  async enrollTokens(): Promise<JoinTokenInfo[]> {
    return (await this.call<{ tokens: JoinTokenInfo[] }>('GET', '/api/v1/enroll-tokens', 'list join tokens')).tokens;
  }
  /** Deletes a join token, by id or a unique prefix of it (admin). */
  revokeEnrollToken(id: string): Promise<JoinTokenInfo> {
    return this.call('DELETE', `/api/v1/enroll-tokens/${encodeURIComponent(id)}`, 'revoke join token');
  }
  createJob(req: JobRequest): Promise<Job> {
    return this.call('POST', '/api/v1/jobs', 'create job', req);
  }
  /** Briefs of the newest jobs (no runs, output or env; the command cut to a bounded length). */
  async jobs(limit: number, before?: string): Promise<JobBrief[]> {
    const q = new URLSearchParams({ limit: String(limit), ...(before ? { before } : {}) });
    return (await this.call<{ jobs: JobBrief[] }>('GET', `/api/v1/jobs?${q}`, 'list jobs')).jobs;
  }
  job(id: string): Promise<Job> {
    return this.call('GET', `/api/v1/jobs/${encodeURIComponent(id)}`, 'show job');
  }
  /** `jobs rerun`: a new job of the same request on the runs picked by how they ended. */
  rerunJob(id: string, pick: RerunBody): Promise<Job> {
    return this.call('POST', `/api/v1/jobs/${encodeURIComponent(id)}/rerun`, 're-run job', pick);
  }
  /** `jobs prune` (admin): removes, or with `dryRun` counts, the finished jobs created before `before` (ISO time). */
  pruneJobs(body: { before: string; dryRun: boolean }): Promise<{ removed: number; ids?: string[] }> {
    return this.call('POST', '/api/v1/jobs/prune', 'prune jobs', body);
  }
  cancelJob(id: string): Promise<Job> {
    return this.call('POST', `/api/v1/jobs/${encodeURIComponent(id)}/cancel`, 'cancel job');
  }
  /** A run's whole stored output as a stream (`jobs logs`: any size, with backpressure). */
  async output(jobId: string, runId: string, stream: 'stdout' | 'stderr'): Promise<Readable> {
    return (await this.outputFrom(jobId, runId, stream, 0)).body;
  }
  /**
   * A run's stored output from byte `offset`. `start` is where the body really starts: 0 from a controller that
   * does not know `offset` (it sends the whole output).
   */
  async outputFrom(
    jobId: string,
    runId: string,
    stream: 'stdout' | 'stderr',
    offset: number,
  ): Promise<{ body: Readable; start: number }> {
    const token = await this.session.token();
    const query = `stream=${stream}${offset > 0 ? `&offset=${offset}` : ''}`;
    const path = `/api/v1/jobs/${encodeURIComponent(jobId)}/runs/${encodeURIComponent(runId)}/output?${query}`;
    const res = await openStream(this.session.controller, path, token, this.session.ca, this.session.timeoutMs);
    if (res.status !== 200) {
      const text = await res.text();
      let body: { error?: string; message?: string } | undefined;
      try {
        body = JSON.parse(text) as typeof body;
      } catch {
        body = undefined;
      }
      throw apiError(res.status, body, 'read output');
    }
    const from = res.body.headers['ogent-output-offset'];
    return { body: res.body, start: offset > 0 && from === String(offset) ? offset : 0 };
  }
  async users(): Promise<Array<{ name: string; role: string; createdAt: string }>> {
    return (
      await this.call<{ users: Array<{ name: string; role: string; createdAt: string }> }>(
        'GET',
        '/api/v1/users',
        'list users',
      )
    ).users;
  }
  addUser(name: string, role: string, password?: string): Promise<{ name: string; role: string; password?: string }> {
    return this.call('POST', '/api/v1/users', 'add user', { name, role, password });
  }
  removeUser(name: string): Promise<{ name: string }> {
    return this.call('DELETE', `/api/v1/users/${encodeURIComponent(name)}`, 'remove user');
  }
  setPassword(name: string, password?: string): Promise<{ name: string; password?: string }> {
    return this.call('PUT', `/api/v1/users/${encodeURIComponent(name)}/password`, 'change password', { password });
  }
  /** The audit log, oldest first (admin). */
  async audit(query: { since?: string; limit?: number; action?: string }): Promise<AuditEntry[]> {
    const q = new URLSearchParams();
    if (query.since !== undefined) q.set('since', query.since);
    if (query.limit !== undefined) q.set('limit', String(query.limit));
    if (query.action !== undefined) q.set('action', query.action);
    return (await this.call<{ entries: AuditEntry[] }>('GET', `/api/v1/audit?${q}`, 'read the audit log')).entries;
  }
}

import { KNOWN_CAPABILITIES } from '../../../domain/capabilities.js';
import type { AuthService } from '../../application/auth-service.js';
import { authorize } from '../../application/access.js';
import type { AgentService } from '../../application/agent-service.js';
import { by, noAudit, type AuditService } from '../../application/audit-service.js';
import type { EnrollmentService } from '../../application/enrollment-service.js';
import type { JobService } from '../../application/job-service.js';
import { jobFor, JobViews } from '../../application/job-views.js';
import { rerunRequest } from '../../application/rerun.js';
import type { PlanService } from '../../application/plan-service.js';
import { planApprovalCheck, planRequestCheck, rerunBodyCheck } from '../../../protocol/plans.js';
import { AppError, badRequest, conflict } from '../../application/errors.js';
import type { Identity } from '../../application/ports.js';
import { jobRequestCheck, labelsCheck, LIMITS } from '../../../protocol/events.js';
import { int, object, optional, parse, str } from '../../../protocol/validate.js';
import type { Logger } from '../../../lib/log.js';
import { VERSION } from '../../../lib/version.js';
import { agentLabelsCheck, listedAgent, type AgentConnection } from '../../../protocol/agents.js';
import { recentRunsOf } from '../../application/agent-runs.js';
import type { LoginGuard } from '../../application/login-guard.js';
import type { SessionService } from '../../application/session-service.js';
import { checkRequestVersion } from '../peer-version.js';
import { addPruneRoute } from './prune-route.js';
import { RateLimiter } from './rate-limit.js';
import { Router, type Request } from './router.js';
import { addTokenRoutes, tooManyRequests } from './token-routes.js';

export interface ApiDeps {
  auth: AuthService;
  agents: AgentService;
  /** Join tokens and `agent run --join-token`. */
  enrollments: EnrollmentService;
  jobs: JobService;
  /** AI command processing (README, AI command processing). */
  plans: PlanService;
  log: Logger;
  /** Disconnects a removed agent. */
  onAgentRemoved(agentId: string): void;
  /** Where and since when an agent is connected, if it is (`agents show`). */
  agentConnection?(agentId: string): AgentConnection | undefined;
  /**
   * The audit log. Routes that change something call `audit.required({...by(actor), action, ok, ...})` before they
   * act (503 when it cannot be written) or `audit.record(...)` (never throws); see AuditService.
   */
  audit?: AuditService;
  /** The login limits `POST /token` goes through (README, Security). */
  logins: LoginGuard;
  /** Logins, refresh tokens and logouts (`POST /token`, `POST /api/v1/logout`). */
  sessions: SessionService;
  /** Scale-out: why the controller cannot serve now (Redis unreachable), or undefined when it can. */
  unhealthy?(): string | undefined;
}

export { loginCheck } from './token-routes.js';
export const userCheck = object({
  name: str({ min: 1, max: LIMITS.nameChars }),
  role: str({ min: 1, max: 16 }),
  password: optional(str({ min: 1, max: 1024 })),
});
export const passwordCheck = object({ password: optional(str({ min: 1, max: 1024 })) });
const agentRunsQueryCheck = object({ limit: optional(int({ min: 1, max: 100 })) });
const enrollTokenCheck = object({
  ttlSeconds: optional(int({ min: 60, max: 365 * 24 * 3600 })),
  uses: optional(int({ min: 1, max: 100_000 })),
  labels: optional(labelsCheck),
});
const enrollCheck = object({ token: str({ min: 1, max: 256 }), name: str({ min: 1, max: 63 }) });
const listQueryCheck = object({ limit: optional(int({ min: 1, max: 1000 })), before: optional(str({ max: 64 })) });
const auditQueryCheck = object({
  since: optional(str({ min: 1, max: 64 })),
  limit: optional(int({ min: 1, max: 10_000 })),
  action: optional(str({ min: 1, max: 32, pattern: /^[a-z_]+$/ })),
});

const labelPairs = (labels: Record<string, string>) => Object.entries(labels).map(([k, v]) => `${k}=${v}`);

/** What the route groups share: the services, and the bearer token check (authentication only). */
interface RouteContext {
  deps: ApiDeps;
  identify(req: Request): Promise<Identity>;
  views: JobViews;
  audit: AuditService;
  enrollFailuresPerAddress: RateLimiter;
}

export function buildApi(deps: ApiDeps): Router {
  const { auth, jobs, log } = deps;
  const views = new JobViews(jobs);
  const audit = deps.audit ?? noAudit;
  const enrollFailuresPerAddress = new RateLimiter(20, 60_000);

  const identify = async (req: Request): Promise<Identity> => {
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m?.[1]) throw new AppError('unauthorized', 'missing bearer token: log in with POST /token');
    const identity = await auth.authenticate(m[1]);
    if (identity.role === 'agent') throw new AppError('forbidden', 'agent identities cannot use the API');
    return { ...identity, from: req.address };
  };

  const router = new Router(log);
  router.unavailable = deps.unhealthy;
  router.admit = checkRequestVersion;
  addTokenRoutes(router, { sessions: deps.sessions, logins: deps.logins, audit, log });
  router
    // version and time let `ogent doctor` compare versions and clocks.
    .on('GET', '/healthz', async () => {
      const problem = deps.unhealthy?.();
      return {
        status: problem ? 503 : 200,
        body: {
          status: problem ? 'unhealthy' : 'ok',
          version: VERSION,
          capabilities: KNOWN_CAPABILITIES,
          time: new Date().toISOString(),
          ...(problem ? { reason: problem } : {}),
        },
      };
    });
  const ctx: RouteContext = { deps, identify, views, audit, enrollFailuresPerAddress };
  addAgentsRoutes(router, ctx);
  addEnrollmentRoutes(router, ctx);
  addJobsRoutes(router, ctx);
  addPruneRoute(router, jobs, identify);
  addAdminRoutes(router, ctx);
  return router;
}

/** Agents: list, read, remove, label and accept (admin for changes). */
function addAgentsRoutes(router: Router, ctx: RouteContext): void {
  const { auth, agents, jobs, log } = ctx.deps;
  const { deps, identify, audit } = ctx;
  router
    .on('GET', '/api/v1/agents', async (req) => {
      authorize(await identify(req), 'listAgents');
      return { status: 200, body: { agents: (await agents.list()).map(listedAgent) } };
    })
    .on('GET', '/api/v1/agents/:id', async (req) => {
      authorize(await identify(req), 'readAgents');
      const agent = await agents.find(req.params.id as string);
      return { status: 200, body: { ...agent, connection: deps.agentConnection?.(agent.id) ?? null } };
    })
    .on('GET', '/api/v1/agents/:id/runs', async (req) => {
      authorize(await identify(req), 'readAgents');
      const q = parse(agentRunsQueryCheck, {
        limit: req.query.has('limit') ? Number(req.query.get('limit')) : undefined,
      });
      const agent = await agents.find(req.params.id as string);
      return { status: 200, body: { runs: await recentRunsOf(jobs, agent, q.limit ?? 10) } };
    })
    .on('DELETE', '/api/v1/agents/:id', async (req) => {
      const actor = await identify(req);
      authorize(actor, 'removeAgents');
      const found = await agents.find(req.params.id as string);
      // Its credential first, so the agent cannot come back between the removal and the disconnection.
      await auth.revokeAgent(found.name);
      const agent = await agents.remove(found.id);
      await audit.record({ ...by(actor), action: 'agent_remove', ok: true, agents: [agent.name], target: agent.id });
      deps.onAgentRemoved(agent.id);
      log.info('agent removed', { agent: agent.name, by: actor.name });
      return { status: 200, body: agent };
    })
    .on('POST', '/api/v1/agents/:id/labels', async (req) => {
      const actor = await identify(req);
      authorize(actor, 'changeAgents');
      const change = parse(agentLabelsCheck, await req.body());
      const set = change.set ?? {};
      const remove = change.remove ?? [];
      if (!Object.keys(set).length && !remove.length) {
        throw badRequest('give labels to set ({"set": {"key": "value"}}) or keys to remove ({"remove": ["key"]})');
      }
      const both = remove.find((key) => Object.hasOwn(set, key));
      if (both !== undefined) throw badRequest(`label "${both}" is both set and removed: give it once`);
      const found = await agents.find(req.params.id as string);
      agents.checkLabel(found, set, remove);
      const detail = [...labelPairs(set), ...remove.map((key) => `${key}-`)].join(' ');
      // Labels route jobs (and their env) to the agent: no change without its audit entry.
      await audit.required({
        ...by(actor),
        action: 'agent_label',
        ok: true,
        agents: [found.name],
        target: found.id,
        detail,
      });
      const agent = await agents.label(found.id, set, remove);
      log.info('agent labels changed', { agent: agent.name, change: detail, by: actor.name });
      return { status: 200, body: agent };
    })
    .on('POST', '/api/v1/agents/:id/accept', async (req) => {
      const actor = await identify(req);
      authorize(actor, 'changeAgents');
      const found = await agents.find(req.params.id as string);
      const pending = found.pending;
      if (!pending) throw conflict(`agent "${found.name}" has no pending change to accept`);
      const facts = Object.entries(pending.facts ?? {}).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
      const detail = [...(pending.labels ? [`labels ${labelPairs(pending.labels).join(',') || '-'}`] : []), ...facts];
      await audit.required({
        ...by(actor),
        action: 'agent_accept',
        ok: true,
        agents: [found.name],
        target: found.id,
        detail: detail.join('; ').slice(0, 500),
      });
      const agent = await agents.accept(found.id);
      log.info('agent change accepted', { agent: agent.name, change: detail, by: actor.name });
      return { status: 200, body: agent };
    });
}

/** Join tokens (admin) and enrolment with one (`agent run --join-token`). */
function addEnrollmentRoutes(router: Router, ctx: RouteContext): void {
  const { agents, log } = ctx.deps;
  const { deps, identify, audit, enrollFailuresPerAddress } = ctx;
  router
    .on('POST', '/api/v1/enroll-tokens', async (req) => {
      const actor = await identify(req);
      authorize(actor, 'issueJoinTokens');
      const q = parse(enrollTokenCheck, await req.body());
      const ttlSeconds = q.ttlSeconds ?? 24 * 3600;
      const uses = q.uses ?? 1;
      const labels = labelPairs(q.labels ?? {});
      await audit.required({
        ...by(actor),
        action: 'enroll_token',
        ok: true,
        detail: `uses ${uses}, ttl ${ttlSeconds}s${labels.length ? `, labels ${labels.join(',')}` : ''}`,
      });
      const issued = await deps.enrollments.issue(actor, { ttlSeconds, uses, labels: q.labels });
      log.info('join token issued', { id: issued.id, uses: issued.uses, expiresAt: issued.expiresAt, by: actor.name });
      return { status: 201, body: issued };
    })
    .on('GET', '/api/v1/enroll-tokens', async (req) => {
      return { status: 200, body: { tokens: await deps.enrollments.list(await identify(req)) } };
    })
    .on('DELETE', '/api/v1/enroll-tokens/:id', async (req) => {
      const actor = await identify(req);
      const token = await deps.enrollments.revoke(actor, req.params.id as string);
      await audit.record({ ...by(actor), action: 'enroll_token_revoke', ok: true, target: token.id });
      log.info('join token revoked', { id: token.id, by: actor.name });
      return { status: 200, body: token };
    })
    .on('POST', '/api/v1/agents/enroll', async (req) => {
      const wait = enrollFailuresPerAddress.blocked(req.address);
      if (wait > 0) {
        return tooManyRequests('too many refused enrollments', wait);
      }
      const { token, name } = parse(enrollCheck, await req.body());
      try {
        const enrolled = await deps.enrollments.enroll(token, name);
        // Before the credential is handed out: the agent's first registration must find its token's labels.
        await agents.enrolled(name, enrolled.labels);
        log.info('agent enrolled', { agent: name, tokenId: enrolled.tokenId, address: req.address });
        await audit.record({ actor: name, from: req.address, action: 'agent_enroll', ok: true, agents: [name] });
        return { status: 201, body: { name: enrolled.name, password: enrolled.password } };
      } catch (err) {
        if (err instanceof AppError && err.status === 401) enrollFailuresPerAddress.hit(req.address);
        log.warn('enrollment refused', { agent: name, address: req.address, error: (err as Error).message });
        await audit.record({
          actor: name,
          from: req.address,
          action: 'agent_enroll',
          ok: false,
          agents: [name],
          detail: (err as Error).message.slice(0, 200),
        });
        throw err;
      }
    });
}

/** Jobs and AI plans: create, list, read, cancel, read output. */
function addJobsRoutes(router: Router, ctx: RouteContext): void {
  const { agents, jobs } = ctx.deps;
  const { deps, identify, views } = ctx;
  router
    .on('POST', '/api/v1/jobs', async (req) => {
      const actor = await identify(req);
      authorize(actor, 'runJobs');
      const request = parse(jobRequestCheck, await req.body());
      const job = await jobs.create(request, actor, await agents.list());
      return { status: 201, body: jobFor(job, actor) };
    })
    .on('POST', '/api/v1/plans', async (req) => {
      const actor = await identify(req);
      authorize(actor, 'runJobs');
      const input = parse(planRequestCheck, await req.body());
      return { status: 201, body: await deps.plans.create(input, actor, await agents.list()) };
    })
    .on('POST', '/api/v1/plans/:id/run', async (req) => {
      const actor = await identify(req);
      authorize(actor, 'runJobs');
      const approval = parse(planApprovalCheck, await req.body());
      const job = await deps.plans.run(req.params.id as string, approval, actor, await agents.list());
      return { status: 201, body: jobFor(job, actor) };
    })
    .on('GET', '/api/v1/jobs', async (req) => {
      const actor = await identify(req);
      authorize(actor, 'readJobs');
      const q = parse(listQueryCheck, {
        limit: req.query.has('limit') ? Number(req.query.get('limit')) : undefined,
        before: req.query.get('before') ?? undefined,
      });
      return { status: 200, body: { jobs: await views.list(actor, q.limit ?? 20, q.before) } };
    })
    .on('GET', '/api/v1/jobs/:id', async (req) => {
      return { status: 200, body: await views.show(req.params.id as string, await identify(req)) };
    })
    .on('POST', '/api/v1/jobs/:id/cancel', async (req) => {
      const actor = await identify(req);
      return { status: 200, body: jobFor(await jobs.cancel(req.params.id as string, actor), actor) };
    })
    .on('POST', '/api/v1/jobs/:id/rerun', async (req) => {
      const actor = await identify(req);
      authorize(actor, 'runJobs');
      const pick = parse(rerunBodyCheck, await req.body());
      const request = rerunRequest(await jobs.get(req.params.id as string), pick, actor);
      return { status: 201, body: jobFor(await jobs.create(request, actor, await agents.list()), actor) };
    })
    .on('GET', '/api/v1/jobs/:id/runs/:runId/output', async (req) => {
      authorize(await identify(req), 'readOutput');
      const stream = req.query.get('stream') ?? 'stdout';
      if (stream !== 'stdout' && stream !== 'stderr') {
        throw new AppError('invalid_request', 'stream must be stdout or stderr');
      }
      const raw = req.query.get('offset') ?? '0';
      const offset = /^\d{1,15}$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(offset)) {
        throw new AppError('invalid_request', `offset must be a whole number of bytes (0 or more), got "${raw}"`);
      }
      const body = await jobs.readOutput(req.params.id as string, req.params.runId as string, stream, offset);
      // Says where the body starts, so a client never mistakes a whole output for the part it asked for.
      return { status: 200, stream: body, headers: { 'ogent-output-offset': String(offset) } };
    });
}

/** The audit log and users (admin; a user may change their own password). */
function addAdminRoutes(router: Router, ctx: RouteContext): void {
  const { auth, log } = ctx.deps;
  const { identify, audit } = ctx;
  router
    .on('GET', '/api/v1/audit', async (req) => {
      const actor = await identify(req);
      const q = parse(auditQueryCheck, {
        since: req.query.get('since') ?? undefined,
        limit: req.query.has('limit') ? Number(req.query.get('limit')) : undefined,
        action: req.query.get('action') ?? undefined,
      });
      if (q.since !== undefined && Number.isNaN(Date.parse(q.since))) {
        throw new AppError('invalid_request', `since must be an ISO 8601 time, got "${q.since}"`);
      }
      const since = q.since === undefined ? undefined : new Date(q.since).toISOString();
      const entries = await audit.read(actor, { since, limit: q.limit ?? 1000, action: q.action });
      return { status: 200, body: { entries } };
    })
    .on('GET', '/api/v1/users', async (req) => {
      const actor = await identify(req);
      return { status: 200, body: { users: await auth.listUsers(actor) } };
    })
    .on('POST', '/api/v1/users', async (req) => {
      const actor = await identify(req);
      authorize(actor, 'manageUsers');
      const { name, role, password } = parse(userCheck, await req.body());
      const created = await auth.addUser(actor, name, role, password);
      log.info('user added', { user: name, role, by: actor.name });
      return { status: 201, body: { name: created.name, role: created.role, password: created.generatedPassword } };
    })
    .on('DELETE', '/api/v1/users/:name', async (req) => {
      const actor = await identify(req);
      await auth.removeUser(actor, req.params.name as string);
      log.info('user removed', { user: req.params.name, by: actor.name });
      return { status: 200, body: { name: req.params.name } };
    })
    .on('PUT', '/api/v1/users/:name/password', async (req) => {
      const actor = await identify(req);
      authorize(actor, 'changePassword', req.params.name as string);
      const { password } = parse(passwordCheck, await req.body());
      const changed = await auth.setPassword(actor, req.params.name as string, password);
      log.info('password changed', { user: changed.name, by: actor.name });
      return { status: 200, body: { name: changed.name, password: changed.generatedPassword } };
    });
}

import type { AuthService } from '../../application/auth-service.js';
import { requireAdmin, requireRole } from '../../application/auth-service.js';
import type { AgentService } from '../../application/agent-service.js';
import type { JobService } from '../../application/job-service.js';
import type { PlanService } from '../../application/plan-service.js';
import { planApprovalCheck, planRequestCheck } from '../../../protocol/plans.js';
import { AppError } from '../../application/errors.js';
import type { Identity } from '../../application/ports.js';
import { jobRequestCheck } from '../../../protocol/events.js';
import { int, object, optional, parse, str } from '../../../protocol/validate.js';
import type { Logger } from '../../../lib/log.js';
import { VERSION } from '../../../lib/version.js';
import type { AgentConnection } from '../../../protocol/agents.js';
import { recentRunsOf } from '../../application/agent-runs.js';
import { RateLimiter } from './rate-limit.js';
import { Router, type Request } from './router.js';

export interface ApiDeps {
  auth: AuthService;
  agents: AgentService;
  jobs: JobService;
  /** AI command processing (DESIGN §7). */
  plans: PlanService;
  log: Logger;
  /** Disconnects a removed agent. */
  onAgentRemoved(agentId: string): void;
  /** Where and since when an agent is connected, if it is (`agents show`). */
  agentConnection?(agentId: string): AgentConnection | undefined;
  /** Scale-out: why the controller cannot serve now (Redis unreachable), or undefined when it can. */
  unhealthy?(): string | undefined;
}

const loginCheck = object({ username: str({ min: 1, max: 128 }), password: str({ min: 1, max: 1024 }) });
const userCheck = object({
  name: str({ min: 1, max: 63 }),
  role: str({ min: 1, max: 16 }),
  password: optional(str({ min: 1, max: 1024 })),
});
const passwordCheck = object({ password: optional(str({ min: 1, max: 1024 })) });
const agentRunsQueryCheck = object({ limit: optional(int({ min: 1, max: 100 })) });
const listQueryCheck = object({ limit: optional(int({ min: 1, max: 1000 })), before: optional(str({ max: 64 })) });

export function buildApi(deps: ApiDeps): Router {
  const { auth, agents, jobs, log } = deps;
  // Failed logins are counted; past the limit every attempt is refused for the rest of the window, right password or not.
  const failuresPerAddress = new RateLimiter(50, 60_000);
  const failuresPerUser = new RateLimiter(10, 60_000);

  const identify = async (req: Request): Promise<Identity> => {
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m?.[1]) throw new AppError(401, 'unauthorized', 'missing bearer token: log in with POST /token');
    const identity = await auth.authenticate(m[1]);
    if (identity.role === 'agent') throw new AppError(403, 'forbidden', 'agent identities cannot use the API');
    return identity;
  };

  const router = new Router(log);
  router.unavailable = deps.unhealthy;
  router
    // version and time let `ogent doctor` compare versions and clocks.
    .on('GET', '/healthz', async () => {
      const problem = deps.unhealthy?.();
      return {
        status: problem ? 503 : 200,
        body: {
          status: problem ? 'unhealthy' : 'ok',
          version: VERSION,
          time: new Date().toISOString(),
          ...(problem ? { reason: problem } : {}),
        },
      };
    })
    .on('POST', '/token', async (req) => {
      const body = await req.body();
      const { username, password } = parse(loginCheck, body);
      const wait = Math.max(failuresPerAddress.blocked(req.address), failuresPerUser.blocked(username));
      if (wait > 0) {
        log.warn('login refused: rate limited', { user: username, address: req.address });
        return {
          status: 429,
          body: { error: 'too_many_requests', message: `too many failed logins; retry in ${wait}s` },
          headers: { 'retry-after': String(wait) },
        };
      }
      try {
        const { token, expiresIn } = await auth.login(username, password);
        log.info('login', { user: username, address: req.address });
        return { status: 200, body: { access_token: token, token_type: 'bearer', expires_in: expiresIn } };
      } catch (err) {
        failuresPerAddress.hit(req.address);
        failuresPerUser.hit(username);
        log.warn('login refused', { user: username, address: req.address });
        throw err;
      }
    })
    .on('GET', '/api/v1/agents', async (req) => {
      requireRole(await identify(req), 'viewer', 'list agents');
      return { status: 200, body: { agents: await agents.list() } };
    })
    .on('GET', '/api/v1/agents/:id', async (req) => {
      requireRole(await identify(req), 'viewer', 'read agents');
      const agent = await agents.find(req.params.id as string);
      return { status: 200, body: { ...agent, connection: deps.agentConnection?.(agent.id) ?? null } };
    })
    .on('GET', '/api/v1/agents/:id/runs', async (req) => {
      requireRole(await identify(req), 'viewer', 'read agents');
      const q = parse(agentRunsQueryCheck, {
        limit: req.query.has('limit') ? Number(req.query.get('limit')) : undefined,
      });
      const agent = await agents.find(req.params.id as string);
      return { status: 200, body: { runs: await recentRunsOf(jobs, agent, q.limit ?? 10) } };
    })
    .on('DELETE', '/api/v1/agents/:id', async (req) => {
      const actor = await identify(req);
      if (actor.role !== 'admin') throw new AppError(403, 'forbidden', `role "${actor.role}" cannot remove agents`);
      const agent = await agents.remove(req.params.id as string);
      deps.onAgentRemoved(agent.id);
      log.info('agent removed', { agent: agent.name, by: actor.name });
      return { status: 200, body: agent };
    })
    .on('POST', '/api/v1/jobs', async (req) => {
      const actor = await identify(req);
      requireRole(actor, 'operator', 'run jobs');
      const request = parse(jobRequestCheck, await req.body());
      const job = await jobs.create(request, actor, await agents.list());
      return { status: 201, body: job };
    })
    .on('POST', '/api/v1/plans', async (req) => {
      const actor = await identify(req);
      const input = parse(planRequestCheck, await req.body());
      return { status: 201, body: await deps.plans.create(input, actor, await agents.list()) };
    })
    .on('POST', '/api/v1/plans/:id/run', async (req) => {
      const actor = await identify(req);
      const approval = parse(planApprovalCheck, await req.body());
      const job = await deps.plans.run(req.params.id as string, approval, actor, await agents.list());
      return { status: 201, body: job };
    })
    .on('GET', '/api/v1/jobs', async (req) => {
      requireRole(await identify(req), 'viewer', 'read jobs');
      const q = parse(listQueryCheck, {
        limit: req.query.has('limit') ? Number(req.query.get('limit')) : undefined,
        before: req.query.get('before') ?? undefined,
      });
      return { status: 200, body: { jobs: await jobs.list(q.limit ?? 20, q.before) } };
    })
    .on('GET', '/api/v1/jobs/:id', async (req) => {
      requireRole(await identify(req), 'viewer', 'read jobs');
      return { status: 200, body: await jobs.get(req.params.id as string) };
    })
    .on('POST', '/api/v1/jobs/:id/cancel', async (req) => {
      const actor = await identify(req);
      return { status: 200, body: await jobs.cancel(req.params.id as string, actor) };
    })
    .on('GET', '/api/v1/jobs/:id/runs/:runId/output', async (req) => {
      requireRole(await identify(req), 'viewer', 'read output');
      const stream = req.query.get('stream') ?? 'stdout';
      if (stream !== 'stdout' && stream !== 'stderr') {
        throw new AppError(400, 'invalid_request', 'stream must be stdout or stderr');
      }
      const body = await jobs.readOutput(req.params.id as string, req.params.runId as string, stream);
      return { status: 200, stream: body };
    })
    .on('GET', '/api/v1/users', async (req) => {
      return { status: 200, body: { users: await auth.listUsers(await identify(req)) } };
    })
    .on('POST', '/api/v1/users', async (req) => {
      const actor = await identify(req);
      requireAdmin(actor);
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
      const { password } = parse(passwordCheck, await req.body());
      const changed = await auth.setPassword(actor, req.params.name as string, password);
      log.info('password changed', { user: changed.name, by: actor.name });
      return { status: 200, body: { name: changed.name, password: changed.generatedPassword } };
    });
  return router;
}

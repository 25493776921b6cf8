import { expect } from 'chai';
import { readdir, readFile } from 'node:fs/promises';
import type { RunningController } from '../../src/controller/index.js';
import type { Job, Plan, Role } from '../../src/domain/model.js';
import { login } from '../../src/client/http.js';
import { EV, type JobAck } from '../../src/protocol/events.js';
import { FakeChatServer, json } from '../helpers/ai-server.js';
import { ADMIN_PASSWORD, Fixtures, waitFor } from '../helpers/fixtures.js';
import { agentInfo, connected, createJob, http, RawAgent, rawSocket, refusal, type RawSocket } from './support.js';

/**
 * docs/architecture.md §7, as a table: every role (and no token) against every REST route and every socket event, on one real
 * controller on port 0. An allowed request gets its 2xx (or its validation 400 when the body is bad); a refused one
 * gets 401 without a token, 403 with the wrong role, before its body is even looked at.
 */
type Who = Role | 'none';
const WHO: Who[] = ['admin', 'operator', 'viewer', 'agent', 'none'];
const USER: Record<Who, string> = { admin: 'admin', operator: 'olga', viewer: 'vera', agent: 'a-1', none: 'vera' };
const ADMIN = { name: 'admin', role: 'admin' as const };

interface Ctx {
  controller: RunningController;
  job: Job;
  runId: string;
  /** A plan made by `who` when it may make one, else by admin. */
  plan(who: Who): Promise<Plan>;
  /** An agent made for this row: removing it must not disturb the others. */
  spareAgent(who: Who): Promise<RawAgent>;
}

interface Route {
  method: string;
  path: (ctx: Ctx, who: Who) => string | Promise<string>;
  body?: (who: Who) => unknown;
  /** Who may call it; 'public' needs no token at all. */
  allowed: Role[] | 'public';
  /** The status of an allowed call. */
  ok: number;
  /** What else to check afterwards, allowed or not. */
  after?: (ctx: Ctx, who: Who, allowed: boolean, path: string) => Promise<void>;
}

const readers: Role[] = ['admin', 'operator', 'viewer'];
const runners: Role[] = ['admin', 'operator'];
const invalidJob = { command: 5, target: 'nope' };

const ROUTES: Record<string, Route> = {
  'GET /healthz': { method: 'GET', path: () => '/healthz', allowed: 'public', ok: 200 },
  // No CA of its own here (plain HTTP on loopback): 404 to anyone, with or without a token.
  'GET /ca.pem': { method: 'GET', path: () => '/ca.pem', allowed: 'public', ok: 404 },
  'GET /readyz': { method: 'GET', path: () => '/readyz', allowed: 'public', ok: 200 },
  'GET /metrics': { method: 'GET', path: () => '/metrics', allowed: 'public', ok: 200 },
  'POST /token': {
    method: 'POST',
    path: () => '/token',
    body: () => ({ username: 'login-user', password: 'login-password-1' }),
    allowed: 'public',
    ok: 200,
  },
  'GET /api/v1/agents': { method: 'GET', path: () => '/api/v1/agents', allowed: readers, ok: 200 },
  'GET /api/v1/audit': { method: 'GET', path: () => '/api/v1/audit?limit=5', allowed: ['admin'], ok: 200 },
  'GET /api/v1/agents/:id': {
    method: 'GET',
    path: async (ctx) => `/api/v1/agents/${(await ctx.controller.agents.find('a-1')).id}`,
    allowed: readers,
    ok: 200,
  },
  'GET /api/v1/agents/:id/runs': {
    method: 'GET',
    path: async (ctx) => `/api/v1/agents/${(await ctx.controller.agents.find('a-1')).id}/runs?limit=5`,
    allowed: readers,
    ok: 200,
  },
  'DELETE /api/v1/agents/:id': {
    method: 'DELETE',
    path: async (ctx, who) => {
      const spare = await ctx.spareAgent(who);
      return `/api/v1/agents/${(await ctx.controller.agents.find(spare.name)).id}`;
    },
    allowed: ['admin'],
    ok: 200,
    after: async (ctx, who, allowed) => {
      const names = (await ctx.controller.agents.list()).map((a) => a.name);
      expect(names.includes(`spare-${who}`), 'the agent is still known').to.equal(!allowed);
    },
  },
  'POST /api/v1/agents/:id/labels': {
    method: 'POST',
    path: () => '/api/v1/agents/a-1/labels',
    body: (who) => ({ set: { [`by-${who}`]: 'yes' } }),
    allowed: ['admin'],
    ok: 200,
    after: async (ctx, who, allowed) => {
      const labels = (await ctx.controller.agents.find('a-1')).labels;
      expect(labels[`by-${who}`] === 'yes', 'the label is set').to.equal(allowed);
    },
  },
  'POST /api/v1/agents/:id/accept': {
    method: 'POST',
    path: async (ctx, who) => {
      const { agent } = await ctx.controller.agents.online('a-1', agentInfo('a-1', { held: who }));
      expect(agent.pending?.labels).to.deep.equal({ held: who });
      return '/api/v1/agents/a-1/accept';
    },
    allowed: ['admin'],
    ok: 200,
    after: async (ctx, who, allowed) => {
      const agent = await ctx.controller.agents.find('a-1');
      expect(agent.labels.held === who, 'the change is taken').to.equal(allowed);
    },
  },
  'POST /api/v1/jobs': {
    method: 'POST',
    path: () => '/api/v1/jobs',
    body: () => ({ command: 'true', target: ['a-1'] }),
    allowed: runners,
    ok: 201,
  },
  'POST /api/v1/jobs (invalid body)': {
    method: 'POST',
    path: () => '/api/v1/jobs',
    body: () => invalidJob,
    allowed: runners,
    ok: 400,
  },
  'POST /api/v1/plans': {
    method: 'POST',
    path: () => '/api/v1/plans',
    body: () => ({ mode: 'generate', request: 'say hi', job: { target: ['a-1'] } }),
    allowed: runners,
    ok: 201,
  },
  'POST /api/v1/plans (invalid body)': {
    method: 'POST',
    path: () => '/api/v1/plans',
    body: () => ({ mode: 'guess', job: invalidJob }),
    allowed: runners,
    ok: 400,
  },
  'POST /api/v1/plans/:id/run': {
    method: 'POST',
    path: async (ctx, who) => `/api/v1/plans/${(await ctx.plan(who)).id}/run`,
    body: () => ({ confirmedWith: 'yes' }),
    allowed: runners,
    ok: 201,
  },
  'POST /api/v1/plans/:id/run (invalid body)': {
    method: 'POST',
    path: async (ctx, who) => `/api/v1/plans/${(await ctx.plan(who)).id}/run`,
    body: () => ({ confirmedWith: 'maybe', allowHighRisk: 'yes' }),
    allowed: runners,
    ok: 400,
  },
  'GET /api/v1/jobs': { method: 'GET', path: () => '/api/v1/jobs?limit=5', allowed: readers, ok: 200 },
  'GET /api/v1/jobs/:id': { method: 'GET', path: (ctx) => `/api/v1/jobs/${ctx.job.id}`, allowed: readers, ok: 200 },
  'POST /api/v1/jobs/:id/cancel': {
    method: 'POST',
    path: async (ctx) => `/api/v1/jobs/${(await createJob(ctx.controller, adminToken(), running)).id}/cancel`,
    allowed: runners,
    ok: 200,
    after: async (ctx, _who, allowed, path) => {
      const job = await ctx.controller.jobs.get(path.split('/')[4] ?? '');
      expect(job.cancelRequested === true, 'cancel requested').to.equal(allowed);
    },
  },
  'POST /api/v1/jobs/:id/rerun': {
    method: 'POST',
    path: (ctx) => `/api/v1/jobs/${ctx.job.id}/rerun`,
    body: () => ({ all: true }),
    allowed: runners,
    ok: 201,
  },
  // A dry run: the other rows' jobs stay.
  'POST /api/v1/jobs/prune': {
    method: 'POST',
    path: () => '/api/v1/jobs/prune',
    body: () => ({ before: new Date(Date.now() - 60_000).toISOString(), dryRun: true }),
    allowed: ['admin'],
    ok: 200,
  },
  'GET /api/v1/jobs/:id/runs/:runId/output': {
    method: 'GET',
    path: (ctx) => `/api/v1/jobs/${ctx.job.id}/runs/${ctx.runId}/output?stream=stdout`,
    allowed: readers,
    ok: 200,
  },
  'POST /api/v1/enroll-tokens': {
    method: 'POST',
    path: () => '/api/v1/enroll-tokens',
    body: () => ({ uses: 1 }),
    allowed: ['admin'],
    ok: 201,
  },
  'GET /api/v1/enroll-tokens': { method: 'GET', path: () => '/api/v1/enroll-tokens', allowed: ['admin'], ok: 200 },
  'DELETE /api/v1/enroll-tokens/:id': {
    method: 'DELETE',
    path: async (ctx) => {
      const issued = await http(ctx.controller.url, '/api/v1/enroll-tokens', {
        method: 'POST',
        token: adminToken(),
        type: 'application/json',
        body: JSON.stringify({ uses: 1 }),
      });
      return `/api/v1/enroll-tokens/${issued.body.id as string}`;
    },
    allowed: ['admin'],
    ok: 200,
    after: async (ctx, _who, allowed, path) => {
      const list = await http(ctx.controller.url, '/api/v1/enroll-tokens', { token: adminToken() });
      const ids = (list.body.tokens as Array<{ id: string }>).map((t) => t.id);
      expect(ids.includes(path.split('/')[4] ?? ''), 'the token still exists').to.equal(!allowed);
    },
  },
  // No bearer token needed: the refresh token in the body is the credential (refresh-tokens tests cover it).
  'POST /api/v1/logout (invalid body)': {
    method: 'POST',
    path: () => '/api/v1/logout',
    body: () => ({ refresh_token: 5 }),
    allowed: 'public',
    ok: 400,
  },
  // No bearer token needed: the join token in the body is the credential (enrollment tests cover it).
  'POST /api/v1/agents/enroll (invalid body)': {
    method: 'POST',
    path: () => '/api/v1/agents/enroll',
    body: () => ({ token: 5, name: '' }),
    allowed: 'public',
    ok: 400,
  },
  'GET /api/v1/users': { method: 'GET', path: () => '/api/v1/users', allowed: ['admin'], ok: 200 },
  'POST /api/v1/users': {
    method: 'POST',
    path: () => '/api/v1/users',
    body: (who) => ({ name: `new-${who}`, role: 'viewer', password: 'new-password-1' }),
    allowed: ['admin'],
    ok: 201,
    after: async (ctx, who, allowed) => {
      const names = (await ctx.controller.auth.listUsers(ADMIN)).map((u) => u.name);
      expect(names.includes(`new-${who}`), 'the user exists').to.equal(allowed);
    },
  },
  'POST /api/v1/users (invalid body)': {
    method: 'POST',
    path: () => '/api/v1/users',
    body: () => ({ name: ['x'], role: 7 }),
    allowed: ['admin'],
    ok: 400,
  },
  'DELETE /api/v1/users/:name': {
    method: 'DELETE',
    path: async (ctx, who) => {
      await ctx.controller.auth.addUser(ADMIN, `del-${who}`, 'viewer', 'del-password-1');
      return `/api/v1/users/del-${who}`;
    },
    allowed: ['admin'],
    ok: 200,
    after: async (ctx, who, allowed) => {
      const names = (await ctx.controller.auth.listUsers(ADMIN)).map((u) => u.name);
      expect(names.includes(`del-${who}`), 'the user still exists').to.equal(!allowed);
    },
  },
  'PUT /api/v1/users/:name/password (another user)': {
    method: 'PUT',
    path: () => '/api/v1/users/pw-target/password',
    body: () => ({ password: 'changed-password-1' }),
    allowed: ['admin'],
    ok: 200,
  },
  'PUT /api/v1/users/:name/password (another user, invalid body)': {
    method: 'PUT',
    path: () => '/api/v1/users/pw-target/password',
    body: () => ({ password: 12 }),
    allowed: ['admin'],
    ok: 400,
  },
  'PUT /api/v1/users/:name/password (own)': {
    method: 'PUT',
    path: (_ctx, who) => `/api/v1/users/${USER[who]}/password`,
    body: (who) => ({ password: `${who}-password-2` }),
    // every user may change its own password; agent identities cannot use the API at all
    allowed: readers,
    ok: 200,
    after: async (_ctx, who, allowed) => {
      if (!allowed) return;
      // the tokens issued before are revoked: log in again with the new password
      passwords[who] = `${who}-password-2`;
      const stale = tokens[who];
      tokens[who] = (await login(url, USER[who], passwords[who])).access_token;
      expect((await http(url, '/api/v1/jobs', { token: stale })).status).to.equal(401);
    },
  },
};

/** The admin's current token (its own password change in the table replaces it). */
const adminToken = () => tokens.admin ?? '';
const running = { command: 'sleep 60', target: ['a-1'], timeoutMs: 600_000 };
let url = '';
const tokens: Partial<Record<Who, string>> = {};
const passwords: Partial<Record<Who, string>> = {};

function expected(route: Route, who: Who): number {
  if (route.allowed === 'public') return route.ok;
  if (who === 'none') return 401;
  return route.allowed.includes(who) ? route.ok : 403;
}

describe('Authorization matrix: every role × every route and event (docs/architecture.md §7)', function () {
  const fx = new Fixtures();
  let ai: FakeChatServer;
  let controller: RunningController;
  let agent: RawAgent;
  let ctx: Ctx;

  before(async () => {
    ai = await new FakeChatServer().start();
    fx.defer(() => ai.stop());
    ai.reply = () => json({ command: 'echo hi', explanation: 'says hi', risk: 'low', risks: [] });
    controller = await fx.controller({ ai: { baseUrl: ai.baseUrl, model: 'test-model', timeoutMs: 5000 } });
    url = controller.url;
    passwords.admin = ADMIN_PASSWORD;
    for (const who of ['operator', 'viewer'] as const) {
      passwords[who] = `${who}-password-1`;
      await controller.auth.addUser(ADMIN, USER[who], who, passwords[who]);
    }
    await controller.auth.addUser(ADMIN, 'login-user', 'viewer', 'login-password-1');
    await controller.auth.addUser(ADMIN, 'pw-target', 'viewer', 'pw-target-password-1');
    agent = await RawAgent.connect(controller, 'a-1');
    fx.defer(() => agent.close());
    passwords.agent = 'pw-a-1-123456';
    for (const who of ['admin', 'operator', 'viewer', 'agent'] as const) {
      tokens[who] = (await login(url, USER[who], passwords[who] ?? '')).access_token;
    }
    const job = await createJob(controller, adminToken(), { command: 'echo out', target: ['a-1'] });
    const runId = job.runs[0]?.id ?? '';
    await agent.command(runId);
    agent.socket.emit(EV.commandProgress, { runId, seq: 1, stream: 'stdout', data: 'out\n' });
    const now = new Date().toISOString();
    const ack = await agent.emitWithAck(EV.commandResult, {
      runId,
      status: 'succeeded',
      exitCode: 0,
      signal: null,
      startedAt: now,
      finishedAt: now,
    });
    expect(ack).to.deep.equal({ ok: true });
    const spares: RawAgent[] = [];
    ctx = {
      controller,
      job,
      runId,
      plan: async (who) => {
        const author = who !== 'none' && runners.includes(who as Role) ? who : 'admin';
        const res = await http(url, '/api/v1/plans', {
          method: 'POST',
          token: tokens[author],
          type: 'application/json',
          body: JSON.stringify({ mode: 'generate', request: 'say hi', job: { target: ['a-1'] } }),
        });
        expect(res.status, res.text).to.equal(201);
        return res.body as unknown as Plan;
      },
      spareAgent: async (who) => {
        const spare = await RawAgent.connect(controller, `spare-${who}`);
        spares.push(spare);
        return spare;
      },
    };
    fx.defer(() => spares.forEach((s) => s.close()));
  });
  after(() => fx.cleanup());

  describe('REST', () => {
    for (const [name, route] of Object.entries(ROUTES)) {
      for (const who of WHO) {
        const status = expected(route, who);
        it(`${name} as ${who} → ${status}`, async () => {
          const path = await route.path(ctx, who);
          const body = route.body?.(who);
          const res = await http(url, path, {
            method: route.method,
            token: tokens[who as Role],
            type: body === undefined ? undefined : 'application/json',
            body: body === undefined ? undefined : JSON.stringify(body),
          });
          expect(res.status, res.text.slice(0, 300)).to.equal(status);
          if (status === 401) expect(res.body.error).to.equal('unauthorized');
          if (status === 403) expect(res.body.error).to.equal('forbidden');
          if (status === 400) expect(res.body.error).to.equal('invalid_request');
          await route.after?.(ctx, who, status === route.ok, path);
        });
      }
    }

    it('has a row for every route the controller serves (every file of infrastructure/http)', async () => {
      const dir = 'src/controller/infrastructure/http';
      const files = (await readdir(dir)).filter((f) => f.endsWith('.ts'));
      const source = (await Promise.all(files.map((f) => readFile(`${dir}/${f}`, 'utf8')))).join('');
      const served = [...source.matchAll(/\.on\('([A-Z]+)', '([^']+)'/g)].map((m) => `${m[1]} ${m[2]}`);
      expect(served.length).to.be.greaterThan(15);
      const rows = new Set(Object.keys(ROUTES).map((name) => name.replace(/ \(.*\)$/, '')));
      expect([...rows].sort()).to.deep.equal([...new Set(served)].sort());
    });
  });

  describe('Socket.IO handshakes', () => {
    const accepts: Record<string, Who[]> = { '/agents': ['agent'], '/clients': readers };
    for (const namespace of ['/agents', '/clients']) {
      for (const who of WHO) {
        const ok = accepts[namespace]?.includes(who) ?? false;
        const code = who === 'none' ? 'ERR_TOKEN_INVALID' : 'ERR_FORBIDDEN';
        it(`${namespace} as ${who} → ${ok ? 'connected' : code}`, async () => {
          const auth = who === 'none' ? {} : { token: tokens[who] };
          if (ok) (await connected(rawSocket(url, namespace, auth))).disconnect();
          else expect((await refusal(rawSocket(url, namespace, auth))).code).to.equal(code);
        });
      }
    }
  });

  describe('/clients events', () => {
    const open: RawSocket[] = [];
    afterEach(() => open.splice(0).forEach((s) => s.disconnect()));
    const clientOf = async (who: Who) => {
      const socket = await connected(rawSocket(url, '/clients', { token: tokens[who] }));
      open.push(socket);
      return socket;
    };
    const ask = async (socket: RawSocket, event: string, payload: unknown) =>
      (await socket.timeout(5000).emitWithAck(event, payload)) as JobAck;

    for (const who of readers) {
      const may = runners.includes(who);
      it(`job_create as ${who} → ${may ? 'created' : 'forbidden'}, also with an invalid payload`, async () => {
        const socket = await clientOf(who);
        const before = (await controller.jobs.list(1000)).length;
        const created = await ask(socket, EV.jobCreate, { command: 'true', target: ['a-1'] });
        if (may) expect(created.ok && created.job.createdBy).to.equal(USER[who]);
        else expect(created).to.deep.include({ ok: false, error: 'forbidden' });
        const invalid = await ask(socket, EV.jobCreate, invalidJob);
        expect(invalid).to.deep.include({ ok: false, error: may ? 'invalid_request' : 'forbidden' });
        expect((await controller.jobs.list(1000)).length).to.equal(before + (may ? 1 : 0));
      });

      it(`job_subscribe and job_unsubscribe as ${who} → allowed`, async () => {
        const socket = await clientOf(who);
        const job = await createJob(controller, adminToken(), running);
        const runId = job.runs[0]?.id ?? '';
        await agent.command(runId);
        const subscribed = await ask(socket, EV.jobSubscribe, { jobId: job.id });
        expect(subscribed.ok && subscribed.job.id).to.equal(job.id);
        const seen: string[] = [];
        socket.on(EV.commandProgress, (p: { data: string }) => seen.push(p.data));
        agent.socket.emit(EV.commandProgress, { runId, seq: 1, stream: 'stdout', data: 'one' });
        await waitFor(() => seen.includes('one'), 'the first chunk');
        socket.emit(EV.jobUnsubscribe, { jobId: job.id });
        // an acknowledged request after the unsubscribe: the server has handled it by then
        expect((await ask(socket, EV.jobSubscribe, { jobId: ctx.job.id })).ok).to.equal(true);
        const control = await clientOf('admin');
        const controlSeen: string[] = [];
        control.on(EV.commandProgress, (p: { data: string }) => controlSeen.push(p.data));
        expect((await ask(control, EV.jobSubscribe, { jobId: job.id })).ok).to.equal(true);
        agent.socket.emit(EV.commandProgress, { runId, seq: 2, stream: 'stdout', data: 'two' });
        await waitFor(() => controlSeen.includes('two'), 'the second chunk on the control socket');
        await ask(socket, EV.jobSubscribe, { jobId: ctx.job.id });
        expect(seen).to.deep.equal(['one']);
      });
    }
  });

  describe('/agents events: an agent reports only for its own runs', () => {
    it('agent_info only under its own name', async () => {
      const ack = await agent.emitWithAck(EV.agentInfo, { ...(await controller.agents.find('a-1')).info, name: 'a-2' });
      expect(ack.ok).to.equal(false);
      expect(ack.error).to.include('must be "a-1"');
      expect((await controller.agents.list()).map((a) => a.name)).to.not.include('a-2');
    });

    it('command_progress and command_result for another agent’s run are refused; its own are taken', async () => {
      const other = await RawAgent.connect(controller, 'a-3');
      fx.defer(() => other.close());
      const job = await createJob(controller, adminToken(), running);
      const runId = job.runs[0]?.id ?? '';
      await agent.command(runId);
      other.socket.emit(EV.commandProgress, { runId, seq: 1, stream: 'stdout', data: 'forged' });
      const now = new Date().toISOString();
      const result = { runId, status: 'succeeded', exitCode: 0, signal: null, startedAt: now, finishedAt: now };
      expect(await other.emitWithAck(EV.commandResult, result)).to.deep.equal({ ok: false, error: 'not_your_run' });
      agent.socket.emit(EV.commandProgress, { runId, seq: 1, stream: 'stdout', data: 'real' });
      expect(await agent.emitWithAck(EV.commandResult, result)).to.deep.equal({ ok: true });
      const done = await controller.jobs.get(job.id);
      expect(done.runs[0]).to.include({ status: 'succeeded', stdout: 'real' });
    });
  });
});

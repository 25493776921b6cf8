import { expect } from 'chai';
import { passwordTokens, startAgent } from '../../src/agent/index.js';
import { request } from '../../src/client/http.js';
import type { RunningController } from '../../src/controller/index.js';
import type { Agent, AuditEntry } from '../../src/domain/model.js';
import { silentLogger, type Logger } from '../../src/lib/log.js';
import { EV } from '../../src/protocol/events.js';
import { Fixtures, waitFor } from '../helpers/fixtures.js';
import { agentInfo, connected, createJob, finishedJob, http, rawSocket, RawAgent, userToken } from './support.js';

/** docs/architecture.md §7.8: the labels and facts that route jobs are the admin's; what an agent reports is pinned. */
describe('agent labels: pinned, held, accepted, set by the admin (real controller and agents)', function () {
  this.timeout(60_000);
  const fx = new Fixtures();
  let controller: RunningController;
  let admin: string;
  const warnings: Array<{ msg: string; fields?: Record<string, unknown> }> = [];
  const log: Logger = {
    debug() {},
    info() {},
    warn: (msg, fields) => void warnings.push({ msg, fields }),
    error() {},
  };

  beforeEach(async () => {
    warnings.length = 0;
    controller = await fx.controller({ log });
    admin = await fx.adminToken(controller);
  });
  afterEach(() => fx.cleanup());

  const show = async (name: string) => {
    const res = await request<Agent>(controller.url, `/api/v1/agents/${name}`, { token: admin });
    expect(res.status, res.text).to.equal(200);
    return res.body;
  };
  const post = (path: string, body: unknown, token = admin) =>
    http(controller.url, path, { method: 'POST', token, body: JSON.stringify(body), type: 'application/json' });
  /** The agents a job on `target` is sent to (a job on no agent is 422). */
  const ranOn = async (target: string) => {
    const res = await request<{ id: string; runs: Array<{ agent: { name: string } }> }>(
      controller.url,
      '/api/v1/jobs',
      { method: 'POST', token: admin, body: { command: 'echo hi', target: [target] } },
    );
    if (res.status === 422) return [];
    expect(res.status, res.text).to.equal(201);
    return res.body.runs.map((r) => r.agent.name).sort();
  };
  const raw = async (name: string, labels: Record<string, string>) => {
    const agent = await RawAgent.connect(controller, name, labels);
    fx.defer(() => agent.close());
    return agent;
  };
  const audit = async (action: string) =>
    (await request<{ entries: AuditEntry[] }>(controller.url, `/api/v1/audit?action=${action}`, { token: admin })).body
      .entries;

  it('a stolen agent credential re-sending agent_info with role=db gets no job for role=db; the change is held', async () => {
    await fx.agent(controller, 'db-1', { role: 'db' });
    const thief = await raw('web-1', { role: 'web' });
    const ack = await thief.emitWithAck(EV.agentInfo, { ...agentInfo('web-1', { role: 'db' }), hostname: 'db-1' });
    expect(ack.ok).to.equal(true);
    const job = await createJob(controller, admin, { command: 'echo secret', target: ['role=db'] });
    expect(job.runs.map((r) => r.agent.name)).to.deep.equal(['db-1']);
    await finishedJob(controller, admin, job.id);
    expect(thief.commands).to.deep.equal([]);
    const agent = await show('web-1');
    expect(agent.labels).to.deep.equal({ role: 'web' });
    expect(agent.info?.hostname).to.equal('raw-host');
    expect(agent.pending?.labels).to.deep.equal({ role: 'db' });
    expect(agent.pending?.facts).to.deep.equal({ hostname: 'db-1' });
    expect(warnings.some((w) => w.fields?.agent === 'web-1' && /held/.test(w.msg))).to.equal(true);
    // A new connection with the same credential is held the same way.
    thief.close();
    const again = await connected(rawSocket(controller.url, '/agents', { token: await agentToken('web-1') }));
    fx.defer(() => void again.disconnect());
    await again.timeout(5000).emitWithAck(EV.agentInfo, agentInfo('web-1', { role: 'db' }));
    expect(await ranOn('role=db')).to.deep.equal(['db-1']);
  });

  const agentToken = async (name: string) => {
    const res = await request<{ access_token: string }>(controller.url, '/token', {
      method: 'POST',
      body: { username: name, password: `pw-${name}-123456` },
    });
    return res.body.access_token;
  };

  it('agents accept (admin, audited) takes the held change, which then routes', async () => {
    const agent = await raw('web-2', { role: 'web' });
    await agent.emitWithAck(EV.agentInfo, agentInfo('web-2', { role: 'db' }));
    expect(await ranOn('role=db')).to.deep.equal([]);
    const operator = await userToken(controller, 'op-1', 'operator');
    expect((await post('/api/v1/agents/web-2/accept', {}, operator)).status).to.equal(403);
    const accepted = await post('/api/v1/agents/web-2/accept', {});
    expect(accepted.status, accepted.text).to.equal(200);
    expect(accepted.body.labels).to.deep.equal({ role: 'db' });
    expect(accepted.body.pending).to.equal(undefined);
    expect(await ranOn('role=db')).to.deep.equal(['web-2']);
    expect(await ranOn('role=web')).to.deep.equal([]);
    const nothing = await post('/api/v1/agents/web-2/accept', {});
    expect(nothing.status).to.equal(409);
    expect(nothing.body.error).to.equal('conflict');
    const entries = await audit('agent_accept');
    expect(entries.map((e) => [e.actor, e.agents, e.ok])).to.deep.equal([['admin', ['web-2'], true]]);
  });

  it('agents label (admin, audited) sets and removes labels; they win over reported ones and route', async () => {
    await raw('web-3', { role: 'web', dc: 'par1' });
    const set = await post('/api/v1/agents/web-3/labels', { set: { role: 'db', tier: 'gold' } });
    expect(set.status, set.text).to.equal(200);
    expect(set.body.labels).to.deep.equal({ role: 'db', dc: 'par1', tier: 'gold' });
    expect(await ranOn('role=db')).to.deep.equal(['web-3']);
    const removed = await post('/api/v1/agents/web-3/labels', { remove: ['role', 'dc'] });
    expect(removed.status, removed.text).to.equal(200);
    expect(removed.body.labels).to.deep.equal({ tier: 'gold' });
    expect(await ranOn('role=db')).to.deep.equal([]);
    expect(await ranOn('dc=par1')).to.deep.equal([]);
    expect(await ranOn('tier=gold')).to.deep.equal(['web-3']);
    for (const bad of [
      {},
      { set: { 'bad key': 'x' } },
      { set: { role: 'a,b' } },
      { remove: ['x y'] },
      { set: 'a=b' },
    ]) {
      const res = await post('/api/v1/agents/web-3/labels', bad);
      expect(res.status, JSON.stringify(bad)).to.equal(400);
      expect(res.body.error).to.equal('invalid_request');
    }
    const many = (from: number) => Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`k${from + i}`, 'v']));
    expect((await post('/api/v1/agents/web-3/labels', { set: many(0) })).status).to.equal(200);
    const over = await post('/api/v1/agents/web-3/labels', { set: many(32) });
    expect(over.status).to.equal(400);
    expect(over.body.message).to.match(/at most 64 labels/);
    expect((await post('/api/v1/agents/web-3/labels', { remove: Object.keys(many(0)) })).status).to.equal(200);
    const operator = await userToken(controller, 'op-2', 'operator');
    expect((await post('/api/v1/agents/web-3/labels', { set: { role: 'db' } }, operator)).status).to.equal(403);
    expect((await post('/api/v1/agents/nope/labels', { set: { role: 'db' } })).status).to.equal(404);
    expect((await show('web-3')).labels).to.deep.equal({ tier: 'gold' });
    const entries = await audit('agent_label');
    expect(entries.map((e) => [e.agents, e.detail])).to.deep.equal([
      [['web-3'], 'role=db tier=gold'],
      [['web-3'], 'role- dc-'],
      [
        ['web-3'],
        Object.keys(many(0))
          .map((k) => `${k}=v`)
          .join(' '),
      ],
      [
        ['web-3'],
        Object.keys(many(0))
          .map((k) => `${k}-`)
          .join(' '),
      ],
    ]);
  });

  it("a join token's labels win over the agent's own --label", async () => {
    const issued = await post('/api/v1/enroll-tokens', { labels: { role: 'web' } });
    expect(issued.status, issued.text).to.equal(201);
    const enrolled = await request<{ password: string }>(controller.url, '/api/v1/agents/enroll', {
      method: 'POST',
      body: { token: issued.body.token, name: 'new-1' },
    });
    expect(enrolled.status, enrolled.text).to.equal(201);
    const agent = await startAgent({
      controller: controller.url,
      name: 'new-1',
      labels: { role: 'db', dc: 'par1' },
      stateDir: null,
      tokens: passwordTokens(controller.url, 'new-1', enrolled.body.password),
      log: silentLogger,
      minDelayMs: 50,
      maxDelayMs: 200,
    });
    fx.defer(() => agent.stop());
    await agent.ready;
    expect((await show('new-1')).labels).to.deep.equal({ role: 'web', dc: 'par1' });
    expect(await ranOn('role=db')).to.deep.equal([]);
    expect(await ranOn('role=web')).to.deep.equal(['new-1']);
  });

  it('an agent restarted with the same labels is not marked changed; with others, the change is held', async () => {
    const first = await fx.agent(controller, 'app-1', { role: 'app' });
    await first.stop();
    await waitFor(async () => (await show('app-1')).status === 'offline', 'app-1 offline');
    await fx.agent(controller, 'app-1', { role: 'app' });
    const same = await show('app-1');
    expect(same.status).to.equal('online');
    expect(same.pending).to.equal(undefined);
    expect(warnings).to.deep.equal([]);
    expect(await ranOn('role=app')).to.deep.equal(['app-1']);
  });

  it('an agent restarted with other labels keeps routing on the pinned ones until accepted', async () => {
    const first = await fx.agent(controller, 'app-2', { role: 'app' });
    await first.stop();
    await waitFor(async () => (await show('app-2')).status === 'offline', 'app-2 offline');
    await fx.agent(controller, 'app-2', { role: 'db' });
    const held = await show('app-2');
    expect(held.labels).to.deep.equal({ role: 'app' });
    expect(held.pending?.labels).to.deep.equal({ role: 'db' });
    expect(await ranOn('role=db')).to.deep.equal([]);
    expect(await ranOn('role=app')).to.deep.equal(['app-2']);
    expect((await post('/api/v1/agents/app-2/accept', {})).status).to.equal(200);
    expect(await ranOn('role=db')).to.deep.equal(['app-2']);
  });
});

import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import type { JoinTokenInfo } from '../../src/protocol/agents.js';
import { join } from 'node:path';
import { passwordTokens } from '../../src/agent/index.js';
import type { TokenSource } from '../../src/agent/client.js';
import { startAgent } from '../../src/agent/index.js';
import { login, request } from '../../src/client/http.js';
import type { RunningController } from '../../src/controller/index.js';
import type { EnrollmentToken } from '../../src/controller/application/ports.js';
import { openLowdbStore } from '../../src/controller/infrastructure/store/lowdb-store.js';
import { silentLogger } from '../../src/lib/log.js';
import { EV } from '../../src/protocol/events.js';
import { Fixtures, waitFor } from '../helpers/fixtures.js';
import { agentInfo, connected, createJob, http, rawSocket, refusal, userToken } from './support.js';

type Enrolled = { status: number; body: { name?: string; password?: string; error?: string; message?: string } };

describe('agent enrollment (join tokens) and revocation', function () {
  this.timeout(60_000);
  const fx = new Fixtures();
  let controller: RunningController;
  let admin: string;

  const issue = async (body: Record<string, unknown> = {}, token = admin) =>
    request<{ id: string; token: string; expiresAt: string; uses: number; error?: string }>(
      controller.url,
      '/api/v1/enroll-tokens',
      { method: 'POST', token, body },
    );
  const joinToken = async (uses = 1) => {
    const res = await issue({ uses });
    expect(res.status, res.text).to.equal(201);
    return res.body.token;
  };
  const enroll = (token: string, name: string): Promise<Enrolled> =>
    request(controller.url, '/api/v1/agents/enroll', { method: 'POST', body: { token, name } });
  const result = (runId: string) => ({
    runId,
    status: 'succeeded',
    exitCode: 0,
    signal: null,
    startedAt: new Date().toISOString(),
    finishedAt: new Date().toISOString(),
  });

  beforeEach(async () => {
    controller = await fx.controller();
    admin = await fx.adminToken(controller);
  });
  afterEach(() => fx.cleanup());

  it('an admin issues a join token; the secret is not stored, only its sha256', async () => {
    const dataDir = await fx.tempDir();
    const own = await fx.controller({ dataDir });
    const res = await request<{ id: string; token: string; expiresAt: string; uses: number }>(
      own.url,
      '/api/v1/enroll-tokens',
      { method: 'POST', token: await fx.adminToken(own), body: { ttlSeconds: 3600, uses: 3 } },
    );
    expect(res.status, res.text).to.equal(201);
    expect(res.body.uses).to.equal(3);
    expect(Date.parse(res.body.expiresAt) - Date.now()).to.be.within(3500_000, 3600_000);
    await own.close();
    const stored = await readFile(join(dataDir, 'enrollments.json'), 'utf8');
    expect(stored).not.to.include(res.body.token);
    expect(stored).to.include(createHash('sha256').update(res.body.token).digest('hex'));
  });

  it('only an admin issues join tokens; bad ttl or uses are 400', async () => {
    const operator = await userToken(controller, 'op-1', 'operator');
    expect((await issue({}, operator)).status).to.equal(403);
    expect((await request(controller.url, '/api/v1/enroll-tokens', { method: 'POST', body: {} })).status).to.equal(401);
    for (const body of [{ uses: 0 }, { uses: 1.5 }, { ttlSeconds: 10 }, { ttlSeconds: 'long' }]) {
      const res = await issue(body);
      expect(res.status, JSON.stringify(body)).to.equal(400);
      expect(res.body.error).to.equal('invalid_request');
    }
  });

  it('a join token gives the agent its own credential: it logs in as an agent-role user of that name', async () => {
    const res = await enroll(await joinToken(), 'web-7');
    expect(res.status).to.equal(201);
    expect(res.body.name).to.equal('web-7');
    const token = (await login(controller.url, 'web-7', res.body.password as string)).access_token;
    // An agent identity: /agents accepts it, the API does not.
    const socket = await connected(rawSocket(controller.url, '/agents', { token }));
    socket.disconnect();
    expect((await http(controller.url, '/api/v1/agents', { token })).status).to.equal(403);
    const users = await controller.auth.listUsers({ name: 'admin', role: 'admin' });
    expect(users.find((u) => u.name === 'web-7')?.role).to.equal('agent');
  });

  it('refuses a wrong token and a used-up one (401), and a bad body or name (400)', async () => {
    const wrong = await enroll('ogj_not-a-real-token', 'web-1');
    expect(wrong.status).to.equal(401);
    expect(wrong.body).to.deep.include({ error: 'invalid_join_token' });
    expect(wrong.body.message).to.match(/^join token invalid/);

    const once = await joinToken(1);
    expect((await enroll(once, 'web-1')).status).to.equal(201);
    const twice = await enroll(once, 'web-2');
    expect(twice.status).to.equal(401);
    expect(twice.body.message).to.match(/^join token used up/);

    for (const body of [{ token: once }, { name: 'x' }, { token: 1, name: 'x' }]) {
      const res = await request(controller.url, '/api/v1/agents/enroll', { method: 'POST', body });
      expect(res.status, JSON.stringify(body)).to.equal(400);
    }
    const badName = await enroll(await joinToken(), '-bad name');
    expect(badName.status).to.equal(400);
    const names = (await controller.auth.listUsers({ name: 'admin', role: 'admin' })).map((u) => u.name);
    expect(names).to.include('web-1').and.not.include('web-2');
  });

  it('refuses an expired token (from the store of a controller started on it)', async () => {
    const dataDir = await fx.tempDir();
    await mkdir(dataDir, { recursive: true });
    const expired: EnrollmentToken = {
      id: 'old',
      hash: createHash('sha256').update('ogj_expired-token').digest('hex'),
      createdBy: 'admin',
      createdAt: '2020-01-01T00:00:00.000Z',
      expiresAt: '2020-01-02T00:00:00.000Z',
      usesLeft: 5,
    };
    await writeFile(join(dataDir, 'enrollments.json'), JSON.stringify({ enrollments: [expired] }));
    controller = await fx.controller({ dataDir });
    const res = await enroll('ogj_expired-token', 'web-1');
    expect(res.status).to.equal(401);
    expect(res.body.message).to.equal('join token expired at 2020-01-02T00:00:00.000Z: ask an admin for a new one');
  });

  it('5 concurrent enrollments with a token of 2 uses: exactly 2 succeed', async () => {
    const token = await joinToken(2);
    const answers = await Promise.all([1, 2, 3, 4, 5].map((i) => enroll(token, `burst-${i}`)));
    expect(answers.map((a) => a.status).sort()).to.deep.equal([201, 201, 401, 401, 401]);
    const created = (await controller.auth.listUsers({ name: 'admin', role: 'admin' })).filter((u) =>
      u.name.startsWith('burst-'),
    );
    expect(created).to.have.length(2);
  });

  it('the store takes each use once: 5 concurrent consumes of 2 uses, 2 succeed', async () => {
    const store = await openLowdbStore(await fx.tempDir());
    fx.defer(() => store.close());
    const now = new Date().toISOString();
    await store.enrollments.put({
      id: 't1',
      hash: 'h1',
      createdBy: 'admin',
      createdAt: now,
      expiresAt: new Date(Date.now() + 60_000).toISOString(),
      usesLeft: 2,
    });
    const taken = await Promise.all([1, 2, 3, 4, 5].map(() => store.enrollments.consume('h1', now)));
    expect(taken.filter(Boolean).map((t) => t?.usesLeft)).to.have.members([1, 0]);
    expect((await store.enrollments.getByHash('h1'))?.usesLeft).to.equal(0);
    expect(await store.enrollments.consume('h1', now)).to.equal(undefined);
    expect(await store.enrollments.consume('nope', now)).to.equal(undefined);
    expect(await store.enrollments.remove('t1')).to.equal(true);
    expect(await store.enrollments.list()).to.deep.equal([]);
  });

  it('never takes over an existing name: a user of another role, or an enrolled agent (until an admin removes it)', async () => {
    await userToken(controller, 'olga', 'operator');
    const token = await joinToken(5);
    const human = await enroll(token, 'olga');
    expect(human.status).to.equal(409);
    expect(human.body.message).to.equal('"olga" is the name of a user with role operator: pick another --name');

    const first = await enroll(token, 'web-9');
    expect(first.status).to.equal(201);
    const again = await enroll(token, 'web-9');
    expect(again.status).to.equal(409);
    expect(again.body.message).to.match(/^agent "web-9" is already enrolled: an admin must remove it first/);
    // The refusals spent no use: 3 are left.
    expect((await enroll(token, 'web-10')).status).to.equal(201);

    // Its first credential still works; after `agents remove` the name can be enrolled again, with a new one.
    const agent = await startEnrolled('web-9', first.body.password as string);
    await agent.ready;
    expect((await http(controller.url, '/api/v1/agents/web-9', { method: 'DELETE', token: admin })).status).to.equal(
      200,
    );
    const reenrolled = await enroll(token, 'web-9');
    expect(reenrolled.status).to.equal(201);
    expect(reenrolled.body.password).not.to.equal(first.body.password);
  });

  it('an enrolled agent cannot pose as another, nor report for runs not sent to it', async () => {
    const token = await joinToken(2);
    const a = await enroll(token, 'ag-a');
    const b = await enroll(token, 'ag-b');
    const tokenA = (await login(controller.url, 'ag-a', a.body.password as string)).access_token;
    const tokenB = (await login(controller.url, 'ag-b', b.body.password as string)).access_token;
    const socketA = await connected(rawSocket(controller.url, '/agents', { token: tokenA }));
    const socketB = await connected(rawSocket(controller.url, '/agents', { token: tokenB }));
    fx.defer(() => void socketA.disconnect());
    fx.defer(() => void socketB.disconnect());
    const commands: Array<{ runId: string }> = [];
    socketA.on(EV.executeCommand, (c: { runId: string }, ack: (r: unknown) => void) => {
      commands.push(c);
      ack({ accepted: true });
    });

    const posing = await socketB.timeout(5000).emitWithAck(EV.agentInfo, agentInfo('ag-a'));
    expect(posing).to.deep.equal({ ok: false, error: 'agent_info name must be "ag-b"' });
    expect(await socketA.timeout(5000).emitWithAck(EV.agentInfo, agentInfo('ag-a'))).to.deep.equal({ ok: true });
    expect(await socketB.timeout(5000).emitWithAck(EV.agentInfo, agentInfo('ag-b'))).to.deep.equal({ ok: true });

    const job = await createJob(controller, admin, { command: 'echo a', target: ['ag-a'] });
    const runId = job.runs[0]?.id as string;
    await waitFor(() => commands.some((c) => c.runId === runId), 'the run sent to ag-a');
    expect(await socketB.timeout(5000).emitWithAck(EV.commandResult, result(runId))).to.deep.equal({
      ok: false,
      error: 'not_your_run',
    });
    expect(await socketA.timeout(5000).emitWithAck(EV.commandResult, result(runId))).to.deep.equal({ ok: true });
  });

  /** An in-process agent on an enrolled credential, whose token fetches the test can watch. */
  const startEnrolled = async (name: string, password: string) => {
    const source = passwordTokens(controller.url, name, password);
    const failures: string[] = [];
    const tokens: TokenSource = {
      get: (refresh) =>
        source.get(refresh).catch((err: Error) => {
          failures.push(err.message);
          throw err;
        }),
    };
    const agent = await startAgent({
      controller: controller.url,
      name,
      labels: {},
      stateDir: null,
      tokens,
      log: silentLogger,
      minDelayMs: 50,
      maxDelayMs: 200,
    });
    fx.defer(() => agent.stop());
    return Object.assign(agent, { failures });
  };

  it('agents remove revokes: the agent is disconnected, its credential and tokens stop working, it stays out', async () => {
    const enrolled = await enroll(await joinToken(), 'gone-1');
    const password = enrolled.body.password as string;
    const oldToken = (await login(controller.url, 'gone-1', password)).access_token;
    const agent = await startEnrolled('gone-1', password);
    await agent.ready;
    expect(agent.client.connected).to.equal(true);

    const removed = await http(controller.url, '/api/v1/agents/gone-1', { method: 'DELETE', token: admin });
    expect(removed.status).to.equal(200);
    await waitFor(() => !agent.client.connected, 'the agent to be disconnected');
    // It tries to come back: its login is refused, so it cannot.
    await waitFor(() => agent.failures.length >= 2, 'two refused attempts to come back');
    expect(agent.failures[0]).to.equal('login refused: invalid user name or password');
    expect(agent.client.connected).to.equal(false);
    const list = await http(controller.url, '/api/v1/agents', { token: admin });
    expect((list.body.agents as Array<{ name: string }>).map((a) => a.name)).not.to.include('gone-1');

    expect(await refusal(rawSocket(controller.url, '/agents', { token: oldToken }))).to.deep.equal({
      code: 'ERR_TOKEN_INVALID',
      message: 'token revoked: user changed',
    });
    const relogin = await request(controller.url, '/token', { form: { username: 'gone-1', password } });
    expect(relogin.status).to.equal(401);
  });

  it('removing a password-based agent removes its agent-role user too, and no other user', async () => {
    await fx.agent(controller, 'plain-1');
    await userToken(controller, 'keep-me', 'viewer');
    expect((await http(controller.url, '/api/v1/agents/plain-1', { method: 'DELETE', token: admin })).status).to.equal(
      200,
    );
    const users = (await controller.auth.listUsers({ name: 'admin', role: 'admin' })).map((u) => u.name);
    expect(users).to.include('keep-me').and.not.include('plain-1');
  });

  describe('listing and revoking join tokens', () => {
    const tokens = (token = admin) =>
      request<{ tokens: JoinTokenInfo[] }>(controller.url, '/api/v1/enroll-tokens', { token });
    const revoke = (id: string, token = admin) =>
      http(controller.url, `/api/v1/enroll-tokens/${encodeURIComponent(id)}`, { method: 'DELETE', token });

    it('lists every token newest first with its state and uses left, never its secret or hash', async () => {
      const first = await issue({ uses: 1 });
      const once = first.body.token;
      expect((await enroll(once, 'web-1')).status).to.equal(201);
      await new Promise((r) => setTimeout(r, 5));
      const second = await issue({ uses: 3, ttlSeconds: 120 });
      const res = await tokens();
      expect(res.status, res.text).to.equal(200);
      expect(res.body.tokens.map((t) => t.id)).to.deep.equal([second.body.id, first.body.id]);
      expect(res.body.tokens[0]).to.deep.include({ state: 'active', usesLeft: 3, createdBy: 'admin' });
      expect(res.body.tokens[1]).to.deep.include({ state: 'used_up', usesLeft: 0 });
      expect(Object.keys(res.body.tokens[0] as object).sort()).to.deep.equal(
        ['createdAt', 'createdBy', 'expiresAt', 'id', 'state', 'usesLeft'].sort(),
      );
      expect(res.text).not.to.include(once).and.not.to.include(createHash('sha256').update(once).digest('hex'));
      // Only an admin: the list says who can let hosts in.
      const operator = await userToken(controller, 'op-2', 'operator');
      expect((await tokens(operator)).status).to.equal(403);
      expect((await revoke(first.body.id, operator)).status).to.equal(403);
    });

    it('a revoked token enrolls no one; agents it enrolled keep their credentials; the audit log says who', async () => {
      const issued = await issue({ uses: 5 });
      const before = await enroll(issued.body.token, 'early-1');
      expect(before.status).to.equal(201);
      // By the first 8 characters of its id, as `agents enroll-token revoke` prints it.
      const res = await revoke(issued.body.id.slice(0, 8));
      expect(res.status, res.text).to.equal(200);
      expect(res.body).to.deep.include({ id: issued.body.id, usesLeft: 4, state: 'active' });
      const after = await enroll(issued.body.token, 'late-1');
      expect(after.status).to.equal(401);
      expect(after.body.message).to.match(/^join token invalid/);
      expect((await tokens()).body.tokens.map((t) => t.id)).not.to.include(issued.body.id);
      // The host that enrolled before still logs in with its own credential.
      const early = await login(controller.url, 'early-1', before.body.password as string);
      expect(early.access_token).to.be.a('string');
      const audit = await http(controller.url, '/api/v1/audit?action=enroll_token_revoke', { token: admin });
      expect(audit.body.entries).to.have.length(1);
      expect((audit.body.entries as Array<Record<string, unknown>>)[0]).to.deep.include({
        actor: 'admin',
        action: 'enroll_token_revoke',
        ok: true,
        target: issued.body.id,
      });
      // Gone is gone: a second revoke is 404.
      const again = await revoke(issued.body.id);
      expect(again.status).to.equal(404);
      expect(again.body.message).to.equal(`no join token with id "${issued.body.id}"`);
    });

    it('an expired token is listed as expired; a prefix under 8 characters or of several ids revokes nothing', async () => {
      const dataDir = await fx.tempDir();
      const token = (id: string, expiresAt = '2099-01-01T00:00:00.000Z'): EnrollmentToken => ({
        id,
        hash: createHash('sha256').update(`ogj_${id}`).digest('hex'),
        createdBy: 'admin',
        createdAt: '2020-01-01T00:00:00.000Z',
        expiresAt,
        usesLeft: 1,
      });
      const stored = [
        token('abcdef12-0000'),
        token('abcdef12-1111'),
        token('99999999-2222', '2020-01-02T00:00:00.000Z'),
      ];
      await writeFile(join(dataDir, 'enrollments.json'), JSON.stringify({ enrollments: stored }));
      controller = await fx.controller({ dataDir });
      admin = await fx.adminToken(controller);
      const listed = (await tokens()).body.tokens;
      expect(listed.find((t) => t.id === '99999999-2222')).to.deep.include({ state: 'expired', usesLeft: 1 });
      const ambiguous = await revoke('abcdef12');
      expect(ambiguous.status).to.equal(409);
      expect(ambiguous.body.message).to.equal(`"abcdef12" is the start of 2 join tokens' ids: give more of it`);
      const short = await revoke('9999');
      expect(short.status).to.equal(400);
      expect(short.body.message).to.equal('give the whole join token id, or at least its first 8 characters');
      expect((await tokens()).body.tokens).to.have.length(3);
      // Ids are lowercase UUIDs; a prefix typed in capitals finds them too.
      expect((await revoke('ABCDEF12-1')).status).to.equal(200);
      expect((await tokens()).body.tokens.map((t) => t.id).sort()).to.deep.equal(['99999999-2222', 'abcdef12-0000']);
    });

    it('issuing a token removes those that expired over a week ago; ones expired since stay listed', async () => {
      const dataDir = await fx.tempDir();
      const day = 86_400_000;
      const token = (id: string, expiresAt: number, usesLeft = 1): EnrollmentToken => ({
        id,
        hash: createHash('sha256').update(`ogj_${id}`).digest('hex'),
        createdBy: 'admin',
        createdAt: new Date(expiresAt - day).toISOString(),
        expiresAt: new Date(expiresAt).toISOString(),
        usesLeft,
      });
      const now = Date.now();
      const stored = [
        token('11111111-old', now - 8 * day),
        token('22222222-old-used-up', now - 8 * day, 0),
        token('33333333-recent', now - 6 * day),
        token('44444444-active', now + day),
      ];
      await writeFile(join(dataDir, 'enrollments.json'), JSON.stringify({ enrollments: stored }));
      controller = await fx.controller({ dataDir });
      admin = await fx.adminToken(controller);
      expect((await tokens()).body.tokens).to.have.length(4);
      const issued = await issue({ uses: 1 });
      expect(issued.status).to.equal(201);
      const ids = (await tokens()).body.tokens.map((t) => t.id);
      expect(ids.sort()).to.deep.equal([issued.body.id, '33333333-recent', '44444444-active'].sort());
      // And from the store itself: a restart does not bring them back.
      await controller.close();
      controller = await fx.controller({ dataDir });
      admin = await fx.adminToken(controller);
      expect((await tokens()).body.tokens.map((t) => t.id).sort()).to.deep.equal(ids.sort());
    });
  });
});

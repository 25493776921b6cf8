import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { login, request, type TokenResponse } from '../../src/client/http.js';
import type { RunningController } from '../../src/controller/index.js';
import { openLowdbStore } from '../../src/controller/infrastructure/store/lowdb-store.js';
import { ADMIN_PASSWORD, Fixtures } from '../helpers/fixtures.js';
import { RedisServer } from '../helpers/redis.js';

const ADMIN = { name: 'admin', role: 'admin' as const };

type Answer = { status: number; body: TokenResponse & { error?: string; message?: string } };

/** `POST /token` with `grant_type=refresh_token`, as a form (OAuth2) or as JSON. */
const refresh = (url: string, token: string, as: 'form' | 'json' = 'form'): Promise<Answer> =>
  request<Answer['body']>(url, '/token', {
    ...(as === 'form'
      ? { form: { grant_type: 'refresh_token', refresh_token: token } }
      : { body: { grant_type: 'refresh_token', refresh_token: token } }),
  });
const logout = (url: string, token: string) => request(url, '/api/v1/logout', { body: { refresh_token: token } });
const agentsWith = async (url: string, token: string) => (await request(url, '/api/v1/agents', { token })).status;

/**
 * Issue #29 (the first hour), docs/architecture.md §7.2: a person stays logged in for a working day with a refresh token, which dies
 * with `logout`, a password change or the user's removal, on every controller of a cluster.
 */
describe('refresh tokens: a working day, ended by logout, a password change or removal (real controller)', function () {
  this.timeout(30_000);
  const fx = new Fixtures();
  let controller: RunningController;
  afterEach(() => fx.cleanup());

  beforeEach(async () => {
    controller = await fx.controller();
    await controller.auth.addUser(ADMIN, 'olga', 'operator', 'olga-password-1');
  });

  it('a password login of a person gets a 12 h refresh token; an agent user gets none', async () => {
    const res = await login(controller.url, 'olga', 'olga-password-1');
    expect(res.refresh_token).to.be.a('string');
    expect(res.refresh_expires_in).to.equal(12 * 3600);
    await controller.auth.addUser(ADMIN, 'web-1', 'agent', 'agent-password-1');
    const agent = await login(controller.url, 'web-1', 'agent-password-1');
    expect(agent.access_token).to.be.a('string');
    expect(agent).not.to.have.property('refresh_token');
  });

  it('a refresh token buys a working access token, as a form or as JSON; it is not rotated', async () => {
    const { refresh_token } = await login(controller.url, 'olga', 'olga-password-1');
    for (const as of ['form', 'json'] as const) {
      const res = await refresh(controller.url, refresh_token as string, as);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body.expires_in).to.equal(3600);
      expect(res.body).not.to.have.property('refresh_token');
      expect(await agentsWith(controller.url, res.body.access_token)).to.equal(200);
    }
  });

  it('an access token is refused as a refresh token, and a refresh token as an access token', async () => {
    const { access_token, refresh_token } = await login(controller.url, 'olga', 'olga-password-1');
    const asRefresh = await refresh(controller.url, access_token);
    expect(asRefresh.status).to.equal(401);
    expect(asRefresh.body.error).to.equal('invalid_token');
    expect(await agentsWith(controller.url, refresh_token as string)).to.equal(401);
    expect(await agentsWith(controller.url, access_token)).to.equal(200);
  });

  it('after logout the refresh token is refused; other sessions of the user live on', async () => {
    const first = await login(controller.url, 'olga', 'olga-password-1');
    const second = await login(controller.url, 'olga', 'olga-password-1');
    const out = await logout(controller.url, first.refresh_token as string);
    expect(out.status).to.equal(200);
    expect(out.body).to.deep.equal({ revoked: true });
    const res = await refresh(controller.url, first.refresh_token as string);
    expect(res.status).to.equal(401);
    expect(res.body.message).to.include('logged out');
    expect((await refresh(controller.url, second.refresh_token as string)).status).to.equal(200);
    expect((await logout(controller.url, first.access_token)).status).to.equal(401);
  });

  it('a logout is kept across a restart of the controller (lowdb file)', async () => {
    const dataDir = await fx.tempDir();
    const one = await fx.controller({ dataDir });
    const { refresh_token } = await login(one.url, 'admin', ADMIN_PASSWORD);
    expect((await logout(one.url, refresh_token as string)).status).to.equal(200);
    await one.close();
    const again = await fx.controller({ dataDir });
    expect((await refresh(again.url, refresh_token as string)).status).to.equal(401);
  });

  it('the revoked sessions file (0600) drops expired entries when it is written', async () => {
    const dataDir = await fx.tempDir();
    const store = await openLowdbStore(dataDir);
    fx.defer(() => store.close());
    await store.sessions.revoke('soon-over', Date.now() + 200);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await store.sessions.revoke('still-on', Date.now() + 60_000);
    const file = join(dataDir, 'sessions.json');
    expect(Object.keys((JSON.parse(await readFile(file, 'utf8')) as { revoked: object }).revoked)).to.deep.equal([
      'still-on',
    ]);
    expect((await stat(file)).mode & 0o777).to.equal(0o600);
  });

  it('after a password change the refresh token is refused', async () => {
    const { refresh_token } = await login(controller.url, 'olga', 'olga-password-1');
    await controller.auth.setPassword(ADMIN, 'olga', 'olga-password-2');
    const res = await refresh(controller.url, refresh_token as string);
    expect(res.status).to.equal(401);
    expect(res.body.message).to.include('password changed');
  });

  it('after the user is removed and added again with the same name, the refresh token is refused', async () => {
    const { refresh_token } = await login(controller.url, 'olga', 'olga-password-1');
    await controller.auth.removeUser(ADMIN, 'olga');
    expect((await refresh(controller.url, refresh_token as string)).status).to.equal(401);
    await controller.auth.addUser(ADMIN, 'olga', 'operator', 'olga-password-1');
    expect((await refresh(controller.url, refresh_token as string)).status).to.equal(401);
  });

  it('failed refreshes count against the address limit: past it, even a good one gets 429', async () => {
    const limited = await fx.controller({ loginLimits: { perAddress: 3, perUser: 10, windowMs: 60_000 } });
    const { refresh_token } = await login(limited.url, 'admin', ADMIN_PASSWORD);
    expect((await refresh(limited.url, refresh_token as string)).status).to.equal(200);
    for (let i = 0; i < 3; i++) expect((await refresh(limited.url, `guess-${i}`)).status).to.equal(401);
    expect((await refresh(limited.url, refresh_token as string)).status).to.equal(429);
  });

  it('bad input: an unknown grant_type or a missing refresh_token is a 400', async () => {
    const grant = await request<{ error: string }>(controller.url, '/token', { form: { grant_type: 'magic' } });
    expect(grant.status).to.equal(400);
    expect(grant.body.error).to.equal('unsupported_grant_type');
    const missing = await request<{ error: string }>(controller.url, '/token', {
      form: { grant_type: 'refresh_token' },
    });
    expect(missing.status).to.equal(400);
    expect((await request(controller.url, '/api/v1/logout', { body: {} })).status).to.equal(400);
  });

  it('--refresh-ttl 0 gives no refresh token', async () => {
    const none = await fx.controller({ refreshTtlSeconds: 0 });
    const res = await login(none.url, 'admin', ADMIN_PASSWORD);
    expect(res.access_token).to.be.a('string');
    expect(res).not.to.have.property('refresh_token');
  });
});

describe('refresh tokens across a cluster (two controllers, one real Redis)', function () {
  this.timeout(60_000);
  const fx = new Fixtures();
  let redis: RedisServer;
  before(async () => {
    redis = await RedisServer.start();
  });
  after(() => redis.stop());
  afterEach(() => fx.cleanup());

  it('a logout on controller A makes the refresh on controller B fail', async () => {
    const redisPrefix = `t${randomBytes(4).toString('hex')}:`;
    const a = await fx.controller({ redis: redis.url, redisPrefix });
    const b = await fx.controller({ redis: redis.url, redisPrefix });
    const { refresh_token } = await login(a.url, 'admin', ADMIN_PASSWORD);
    expect((await refresh(b.url, refresh_token as string)).status).to.equal(200);
    expect((await logout(a.url, refresh_token as string)).status).to.equal(200);
    const res = await refresh(b.url, refresh_token as string);
    expect(res.status).to.equal(401);
    expect(res.body.message).to.include('logged out');
  });
});

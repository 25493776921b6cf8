import { expect } from 'chai';
import { decodeJwt } from 'jose';
import { login, request } from '../../src/client/http.js';
import type { RunningController } from '../../src/controller/index.js';
import { hashPassword } from '../../src/controller/application/passwords.js';
import { openLowdbStore } from '../../src/controller/infrastructure/store/lowdb-store.js';
import { EV } from '../../src/protocol/events.js';
import { Fixtures } from '../helpers/fixtures.js';
import { agentInfo, connected, http, rawSocket } from './support.js';

const ADMIN = { name: 'admin', role: 'admin' as const };

/**
 * docs/architecture.md §7.2, issue #20 row 5: a token dies with its user. Every user (and agent user) gets a random epoch when it is
 * created; tokens carry it, so a name removed and created again never revives a token issued to the old one.
 */
describe('token epochs: a re-created name never revives an old token (real controller)', function () {
  this.timeout(30_000);
  const fx = new Fixtures();
  let controller: RunningController;
  let admin: string;

  beforeEach(async () => {
    controller = await fx.controller();
    admin = await fx.adminToken(controller);
  });
  afterEach(() => fx.cleanup());

  /** Opens a socket with `token`: 'connected' (then closes it), or the refusal's code. */
  const handshake = (namespace: string, token: string) =>
    new Promise<string | undefined>((resolve) => {
      const socket = rawSocket(controller.url, namespace, { token });
      socket.once('connect', () => {
        socket.disconnect();
        resolve('connected');
      });
      socket.once('connect_error', (err: Error & { data?: { code?: string } }) => {
        socket.disconnect();
        resolve(err.data?.code);
      });
    });

  it('users remove, then users add the same name and role: the old token gets 401 and its handshake is refused', async () => {
    await controller.auth.addUser(ADMIN, 'olga', 'operator', 'olga-password-1');
    const old = (await login(controller.url, 'olga', 'olga-password-1')).access_token;
    expect((await http(controller.url, '/api/v1/jobs', { token: old })).status).to.equal(200);

    expect((await http(controller.url, '/api/v1/users/olga', { method: 'DELETE', token: admin })).status).to.equal(200);
    const again = await request(controller.url, '/api/v1/users', {
      method: 'POST',
      token: admin,
      body: { name: 'olga', role: 'operator', password: 'olga-password-1' },
    });
    expect(again.status, again.text).to.equal(201);

    const rest = await http(controller.url, '/api/v1/jobs', { token: old });
    expect(rest.status).to.equal(401);
    expect(rest.body.message).to.match(/revoked/);
    expect(await handshake('/clients', old)).to.equal('ERR_TOKEN_INVALID');
    // the new user's own token works
    const fresh = (await login(controller.url, 'olga', 'olga-password-1')).access_token;
    expect((await http(controller.url, '/api/v1/jobs', { token: fresh })).status).to.equal(200);
    expect(await handshake('/clients', fresh)).to.equal('connected');
  });

  it('agents remove, then enroll the same name with a join token: the old agent token is refused', async () => {
    const issued = await request<{ token: string }>(controller.url, '/api/v1/enroll-tokens', {
      method: 'POST',
      token: admin,
      body: { uses: 2 },
    });
    const enroll = () =>
      request<{ password: string }>(controller.url, '/api/v1/agents/enroll', {
        method: 'POST',
        body: { token: issued.body.token, name: 'ep-1' },
      });
    const first = await enroll();
    expect(first.status, first.text).to.equal(201);
    const old = (await login(controller.url, 'ep-1', first.body.password)).access_token;
    const socket = await connected(rawSocket(controller.url, '/agents', { token: old }));
    fx.defer(() => void socket.disconnect());
    expect(((await socket.timeout(5000).emitWithAck(EV.agentInfo, agentInfo('ep-1'))) as { ok: boolean }).ok).to.equal(
      true,
    );

    expect((await http(controller.url, '/api/v1/agents/ep-1', { method: 'DELETE', token: admin })).status).to.equal(
      200,
    );
    const second = await enroll();
    expect(second.status, second.text).to.equal(201);

    expect(await handshake('/agents', old)).to.equal('ERR_TOKEN_INVALID');
    // REST: refused as a token (401), before the agent-identity check (403) is reached
    expect((await http(controller.url, '/api/v1/agents', { token: old })).status).to.equal(401);
    const fresh = (await login(controller.url, 'ep-1', second.body.password)).access_token;
    expect(await handshake('/agents', fresh)).to.equal('connected');
  });

  it('a store from before epochs: its users and tokens keep working; a re-created name gets an epoch', async () => {
    const dataDir = await fx.tempDir();
    const store = await openLowdbStore(dataDir);
    for (const name of ['admin', 'olga']) {
      await store.users.put({
        name,
        role: name === 'admin' ? 'admin' : 'operator',
        passwordHash: await hashPassword(`${name}-password-1`),
        createdAt: new Date().toISOString(),
      });
    }
    await store.close();
    const legacy = await fx.controller({ dataDir });
    const old = (await login(legacy.url, 'olga', 'olga-password-1')).access_token;
    expect(decodeJwt(old)).not.to.have.property('epoch');
    expect((await http(legacy.url, '/api/v1/jobs', { token: old })).status).to.equal(200);

    await legacy.auth.removeUser(ADMIN, 'olga');
    await legacy.auth.addUser(ADMIN, 'olga', 'operator', 'olga-password-1');
    expect((await http(legacy.url, '/api/v1/jobs', { token: old })).status).to.equal(401);
    const fresh = (await login(legacy.url, 'olga', 'olga-password-1')).access_token;
    expect(decodeJwt(fresh).epoch).to.be.a('string').with.length.above(10);
    expect((await http(legacy.url, '/api/v1/jobs', { token: fresh })).status).to.equal(200);
  });
});

import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SignJWT, UnsecuredJWT } from 'jose';
import type { RunningController } from '../../src/controller/index.js';
import { Fixtures, waitFor } from '../helpers/fixtures.js';
import { connected, http, rawSocket, refusal, userToken } from './support.js';

/** docs/protocol.md §4: the handshake checks the JWT and says why it refuses in `data.code`. */
describe('Socket.IO handshake (real server on port 0)', () => {
  const fx = new Fixtures();
  let controller: RunningController;
  let dataDir: string;

  beforeEach(async () => {
    dataDir = await fx.tempDir();
    controller = await fx.controller({ dataDir });
  });
  afterEach(() => fx.cleanup());

  const refused = (namespace: string, auth: Record<string, unknown>) =>
    refusal(rawSocket(controller.url, namespace, auth));

  /** A token the controller's own secret signs, with claims chosen by the test. */
  const signed = async (claims: { sub: string; role: string; exp: number; ver?: number; iss?: string }) => {
    const secret = Buffer.from((await readFile(join(dataDir, 'secret.key'), 'utf8')).trim(), 'base64');
    return new SignJWT({ role: claims.role, ver: claims.ver ?? 0 })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(claims.sub)
      .setIssuer(claims.iss ?? 'ogent')
      .setAudience('ogent')
      .setIssuedAt(claims.exp - 60)
      .setExpirationTime(claims.exp)
      .setJti('test-jti')
      .sign(secret);
  };
  const now = () => Math.floor(Date.now() / 1000);

  for (const namespace of ['/agents', '/clients']) {
    it(`${namespace}: refuses a missing, empty or non-string token with ERR_TOKEN_INVALID`, async () => {
      for (const auth of [{}, { token: '' }, { token: 42 }, { token: ['x'] }]) {
        expect((await refused(namespace, auth)).code, JSON.stringify(auth)).to.equal('ERR_TOKEN_INVALID');
      }
    });

    it(`${namespace}: refuses forged tokens with ERR_TOKEN_INVALID`, async () => {
      const role = namespace === '/agents' ? 'agent' : 'admin';
      const sub = namespace === '/agents' ? 'a-1' : 'admin';
      if (role === 'agent') await userToken(controller, 'a-1', 'agent');
      const otherSecret = new SignJWT({ role, ver: 0 })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(sub)
        .setIssuer('ogent')
        .setAudience('ogent')
        .setIssuedAt()
        .setExpirationTime('1h')
        .setJti('x')
        .sign(Buffer.alloc(32, 7));
      const unsigned = new UnsecuredJWT({ role, ver: 0 })
        .setSubject(sub)
        .setIssuer('ogent')
        .setAudience('ogent')
        .setIssuedAt()
        .setExpirationTime('1h')
        .setJti('x')
        .encode();
      const tokens = [
        'not-a-jwt',
        await otherSecret,
        unsigned,
        await signed({ sub, role, exp: now() + 600, iss: 'someone-else' }),
        await signed({ sub: 'ghost', role, exp: now() + 600 }),
        await signed({ sub, role: 'root', exp: now() + 600 }),
      ];
      for (const token of tokens) {
        const { code } = await refused(namespace, { token });
        expect(code, token).to.equal('ERR_TOKEN_INVALID');
      }
    });

    it(`${namespace}: refuses an expired token with ERR_TOKEN_EXPIRED`, async () => {
      const [sub, role] = namespace === '/agents' ? ['a-1', 'agent'] : ['admin', 'admin'];
      if (role === 'agent') await userToken(controller, 'a-1', 'agent');
      const token = await signed({ sub, role, exp: now() - 5 });
      expect((await refused(namespace, { token })).code).to.equal('ERR_TOKEN_EXPIRED');
    });
  }

  it('a token from a controller with a 1 s lifetime is accepted, then refused with ERR_TOKEN_EXPIRED', async () => {
    const short = await fx.controller({ tokenTtlSeconds: 1 });
    const token = await userToken(short, 'olga', 'operator');
    const socket = await connected(rawSocket(short.url, '/clients', { token }));
    socket.disconnect();
    await waitFor(
      async () => (await http(short.url, '/api/v1/jobs', { token })).body.error === 'token_expired',
      'the token to expire',
    );
    expect((await refusal(rawSocket(short.url, '/clients', { token }))).code).to.equal('ERR_TOKEN_EXPIRED');
  });

  it('refuses a user token on /agents and an agent token on /clients with ERR_FORBIDDEN', async () => {
    const admin = await fx.adminToken(controller);
    const viewer = await userToken(controller, 'vera', 'viewer');
    const agent = await userToken(controller, 'a-1', 'agent');
    expect((await refused('/agents', { token: admin })).code).to.equal('ERR_FORBIDDEN');
    expect((await refused('/agents', { token: viewer })).code).to.equal('ERR_FORBIDDEN');
    expect((await refused('/clients', { token: agent })).code).to.equal('ERR_FORBIDDEN');
    // and each is accepted where it belongs
    (await connected(rawSocket(controller.url, '/agents', { token: agent }))).disconnect();
    (await connected(rawSocket(controller.url, '/clients', { token: viewer }))).disconnect();
  });

  it('refuses the token of a removed user, and the tokens issued before a password change', async () => {
    const admin = { name: 'admin', role: 'admin' as const };
    const removed = await userToken(controller, 'gone', 'operator');
    await controller.auth.removeUser(admin, 'gone');
    expect((await refused('/clients', { token: removed })).code).to.equal('ERR_TOKEN_INVALID');
    const before = await userToken(controller, 'a-2', 'agent');
    await controller.auth.setPassword(admin, 'a-2', 'a-new-password-1');
    expect((await refused('/agents', { token: before })).code).to.equal('ERR_TOKEN_INVALID');
  });
});

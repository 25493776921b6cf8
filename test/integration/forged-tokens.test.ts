import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair, SignJWT, UnsecuredJWT, type CryptoKey, type JWTPayload } from 'jose';
import type { RunningController } from '../../src/controller/index.js';
import { EV, type JobAck } from '../../src/protocol/events.js';
import { Fixtures, waitFor } from '../helpers/fixtures.js';
import { connected, http, RawAgent, rawSocket, refusal, userToken, type RawSocket } from './support.js';

const now = () => Math.floor(Date.now() / 1000);
const ADMIN = { name: 'admin', role: 'admin' as const };

interface Forge {
  claims?: Partial<Record<'iss' | 'aud' | 'jti' | 'sub' | 'role', string | undefined>> & {
    exp?: number;
    iat?: number;
    ver?: unknown;
    epoch?: unknown;
  };
  drop?: Array<'exp' | 'jti' | 'sub' | 'iat' | 'iss' | 'aud' | 'ver' | 'role' | 'epoch'>;
  alg?: string;
  key?: Uint8Array | CryptoKey;
}

/**
 * docs/architecture.md §7: a token is accepted only when HS256-signed with the controller's secret, with issuer, audience, expiry,
 * issue time, id, subject, role, token version and the user's epoch right. Each forgery is tried on REST and on both namespaces.
 */
describe('Forged and misused tokens are refused (REST, /clients, /agents)', function () {
  const fx = new Fixtures();
  let controller: RunningController;
  let secret: Buffer;
  /** Each user's epoch, as the store holds it. */
  let epochs: Map<string, string | undefined>;

  before(async () => {
    const dataDir = await fx.tempDir();
    controller = await fx.controller({ dataDir });
    secret = Buffer.from((await readFile(join(dataDir, 'secret.key'), 'utf8')).trim(), 'base64');
    await controller.auth.addUser(ADMIN, 'a-1', 'agent', 'agent-password-1');
    await controller.auth.addUser(ADMIN, 'vera', 'viewer', 'viewer-password-1');
    const { users } = JSON.parse(await readFile(join(dataDir, 'users.json'), 'utf8')) as {
      users: Array<{ name: string; epoch?: string }>;
    };
    epochs = new Map(users.map((u) => [u.name, u.epoch]));
  });
  after(() => fx.cleanup());

  /** A token like the controller's own for `sub`/`role`, changed as `f` says. */
  const forge = async (sub: string, role: string, f: Forge = {}): Promise<string> => {
    const payload: JWTPayload = {
      iss: 'ogent',
      aud: 'ogent',
      sub,
      role,
      ver: 0,
      epoch: epochs.get(sub),
      iat: now() - 10,
      exp: now() + 600,
      jti: 'forged-jti',
      ...f.claims,
    };
    for (const k of f.drop ?? []) delete payload[k];
    const alg = f.alg ?? 'HS256';
    if (alg === 'none') return new UnsecuredJWT(payload).encode();
    return new SignJWT(payload).setProtectedHeader({ alg, typ: 'JWT' }).sign(f.key ?? secret);
  };

  const rsa = generateKeyPair('RS256');
  const ec = generateKeyPair('ES256');
  const forgeries: Array<[string, Forge, 'ERR_TOKEN_INVALID' | 'ERR_TOKEN_EXPIRED']> = [
    ['signed with another HS256 key', { key: Buffer.alloc(32, 7) }, 'ERR_TOKEN_INVALID'],
    ['alg: none', { alg: 'none' }, 'ERR_TOKEN_INVALID'],
    ['HS512 with the controller’s own secret', { alg: 'HS512' }, 'ERR_TOKEN_INVALID'],
    ['HS384 with the controller’s own secret', { alg: 'HS384' }, 'ERR_TOKEN_INVALID'],
    ['HS512 with another key', { alg: 'HS512', key: Buffer.alloc(64, 9) }, 'ERR_TOKEN_INVALID'],
    ['expired', { claims: { iat: now() - 700, exp: now() - 60 } }, 'ERR_TOKEN_EXPIRED'],
    ['wrong audience', { claims: { aud: 'someone-else' } }, 'ERR_TOKEN_INVALID'],
    ['wrong issuer', { claims: { iss: 'someone-else' } }, 'ERR_TOKEN_INVALID'],
    ['no jti', { drop: ['jti'] }, 'ERR_TOKEN_INVALID'],
    ['no exp', { drop: ['exp'] }, 'ERR_TOKEN_INVALID'],
    ['no iat', { drop: ['iat'] }, 'ERR_TOKEN_INVALID'],
    ['no iss', { drop: ['iss'] }, 'ERR_TOKEN_INVALID'],
    ['no aud', { drop: ['aud'] }, 'ERR_TOKEN_INVALID'],
    ['no sub', { drop: ['sub'] }, 'ERR_TOKEN_INVALID'],
    ['no token version', { drop: ['ver'] }, 'ERR_TOKEN_INVALID'],
    ['a token version not issued (revoked or forged)', { claims: { ver: 3 } }, 'ERR_TOKEN_INVALID'],
    ['a token version of the wrong type', { claims: { ver: '0' } }, 'ERR_TOKEN_INVALID'],
    ['no epoch (its user has one)', { drop: ['epoch'] }, 'ERR_TOKEN_INVALID'],
    ['another epoch (an earlier user of that name)', { claims: { epoch: 'an-earlier-epoch' } }, 'ERR_TOKEN_INVALID'],
    ['an epoch of the wrong type', { claims: { epoch: 7 } }, 'ERR_TOKEN_INVALID'],
    ['an unknown user', { claims: { sub: 'ghost' } }, 'ERR_TOKEN_INVALID'],
    ['a role that does not exist', { claims: { role: 'root' } }, 'ERR_TOKEN_INVALID'],
    ['issued in the future', { claims: { iat: now() + 3600, exp: now() + 7200 } }, 'ERR_TOKEN_INVALID'],
  ];

  /** The user a forgery pretends to be: an admin for REST and /clients, agent a-1 for /agents. */
  const subjects = { rest: ['admin', 'admin'], '/clients': ['admin', 'admin'], '/agents': ['a-1', 'agent'] } as const;

  for (const [what, f, code] of forgeries) {
    it(`${what}: 401 on REST, ${code} on /clients and /agents`, async () => {
      const [restSub, restRole] = subjects.rest;
      const rest = await http(controller.url, '/api/v1/users', { token: await forge(restSub, restRole, f) });
      expect(rest.status, rest.text).to.equal(401);
      expect(rest.body.error).to.equal(code === 'ERR_TOKEN_EXPIRED' ? 'token_expired' : 'invalid_token');
      for (const namespace of ['/clients', '/agents'] as const) {
        const [sub, role] = subjects[namespace];
        const token = await forge(sub, role, f);
        expect((await refusal(rawSocket(controller.url, namespace, { token }))).code, namespace).to.equal(code);
      }
    });
  }

  it('RS256 and ES256 tokens (another key, another algorithm) are refused everywhere', async () => {
    for (const pair of [await rsa, await ec]) {
      const alg = pair === (await rsa) ? 'RS256' : 'ES256';
      const token = await forge('admin', 'admin', { alg, key: pair.privateKey });
      expect((await http(controller.url, '/api/v1/jobs', { token })).status, alg).to.equal(401);
      expect((await refusal(rawSocket(controller.url, '/clients', { token }))).code).to.equal('ERR_TOKEN_INVALID');
      const agentToken = await forge('a-1', 'agent', { alg, key: pair.privateKey });
      expect((await refusal(rawSocket(controller.url, '/agents', { token: agentToken }))).code).to.equal(
        'ERR_TOKEN_INVALID',
      );
    }
  });

  it('a payload changed after signing (viewer → admin) is refused', async () => {
    const real = await forge('vera', 'viewer');
    expect((await http(controller.url, '/api/v1/jobs', { token: real })).status).to.equal(200);
    const [head, payload, signature] = real.split('.');
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()) as Record<string, unknown>;
    const tampered = Buffer.from(JSON.stringify({ ...claims, role: 'admin' })).toString('base64url');
    const token = `${head}.${tampered}.${signature}`;
    expect((await http(controller.url, '/api/v1/users', { token })).status).to.equal(401);
    expect((await refusal(rawSocket(controller.url, '/clients', { token }))).code).to.equal('ERR_TOKEN_INVALID');
  });

  it('a real token claiming another role than its user has is refused', async () => {
    const token = await forge('vera', 'admin');
    expect((await http(controller.url, '/api/v1/users', { token })).status).to.equal(401);
    expect((await refusal(rawSocket(controller.url, '/clients', { token }))).code).to.equal('ERR_TOKEN_INVALID');
  });

  it('malformed Authorization headers get 401 unauthorized or invalid_token', async () => {
    const cases: Array<[string, string]> = [
      ['Bearer', 'unauthorized'],
      ['Bearer ', 'unauthorized'],
      ['Basic YWRtaW46YWRtaW4=', 'unauthorized'],
      ['Token abc', 'unauthorized'],
      ['Bearer a.b', 'invalid_token'],
      ['Bearer a.b.c', 'invalid_token'],
      ['Bearer ....', 'invalid_token'],
      [`Bearer ${'x'.repeat(8000)}`, 'invalid_token'],
    ];
    for (const [header, error] of cases) {
      const res = await fetch(`${controller.url}/api/v1/jobs`, { headers: { authorization: header } });
      expect(res.status, header.slice(0, 40)).to.equal(401);
      expect(((await res.json()) as { error: string }).error, header.slice(0, 40)).to.equal(error);
    }
  });

  it('an agent token is refused on every user route (403) and on /clients; a user token on /agents', async () => {
    const agent = await forge('a-1', 'agent');
    for (const [method, path] of [
      ['GET', '/api/v1/agents'],
      ['GET', '/api/v1/jobs'],
      ['POST', '/api/v1/jobs'],
      ['GET', '/api/v1/users'],
      ['PUT', '/api/v1/users/a-1/password'],
    ] as const) {
      const body = method === 'GET' ? undefined : '{}';
      const res = await http(controller.url, path, { method, token: agent, type: 'application/json', body });
      expect(res.status, `${method} ${path}`).to.equal(403);
      expect(res.body.error).to.equal('forbidden');
    }
    expect((await refusal(rawSocket(controller.url, '/clients', { token: agent }))).code).to.equal('ERR_FORBIDDEN');
    for (const [sub, role] of [
      ['admin', 'admin'],
      ['vera', 'viewer'],
    ]) {
      const token = await forge(sub ?? '', role ?? '');
      expect((await refusal(rawSocket(controller.url, '/agents', { token }))).code, role).to.equal('ERR_FORBIDDEN');
    }
  });
});

/**
 * Revocation (docs/architecture.md §7): removing a user or changing its password revokes the tokens issued before. REST refuses
 * them at once; connections opened with them are closed, and a request on one that is still open is refused.
 */
describe('Token revocation reaches REST and open sockets', function () {
  const fx = new Fixtures();
  let controller: RunningController;
  let agent: RawAgent;

  beforeEach(async () => {
    controller = await fx.controller();
    agent = await RawAgent.connect(controller, 'a-1');
    fx.defer(() => agent.close());
  });
  afterEach(() => fx.cleanup());

  const closedByServer = (socket: RawSocket) =>
    new Promise<string>((resolve) => socket.once('disconnect', (reason) => resolve(reason)));

  for (const change of ['removed', 'password changed'] as const) {
    it(`a ${change} user: REST 401, its /clients socket closed, its next handshake refused`, async () => {
      const token = await userToken(controller, 'olga', 'operator');
      const socket = await connected(rawSocket(controller.url, '/clients', { token }));
      fx.defer(() => void socket.disconnect());
      const created = (await socket.timeout(5000).emitWithAck(EV.jobCreate, {
        command: 'true',
        target: ['a-1'],
      })) as JobAck;
      expect(created.ok).to.equal(true);
      const closed = closedByServer(socket);
      if (change === 'removed') await controller.auth.removeUser(ADMIN, 'olga');
      else await controller.auth.setPassword(ADMIN, 'olga', 'another-password-1');
      expect(await closed).to.equal('io server disconnect');
      const rest = await http(controller.url, '/api/v1/jobs', { token });
      expect(rest.status).to.equal(401);
      expect(rest.body.message).to.match(/revoked/);
      expect((await refusal(rawSocket(controller.url, '/clients', { token }))).code).to.equal('ERR_TOKEN_INVALID');
      expect((await controller.jobs.list(100)).length).to.equal(1);
    });
  }

  it('a removed agent user: its /agents socket is closed and it cannot come back with the old token', async () => {
    const token = await userToken(controller, 'a-2', 'agent');
    const socket = await connected(rawSocket(controller.url, '/agents', { token }));
    fx.defer(() => void socket.disconnect());
    const closed = closedByServer(socket);
    await controller.auth.removeUser(ADMIN, 'a-2');
    expect(await closed).to.equal('io server disconnect');
    expect((await refusal(rawSocket(controller.url, '/agents', { token }))).code).to.equal('ERR_TOKEN_INVALID');
  });

  it('another user’s connections stay open', async () => {
    const olga = await userToken(controller, 'olga', 'operator');
    const vera = await userToken(controller, 'vera', 'viewer');
    const kept = await connected(rawSocket(controller.url, '/clients', { token: vera }));
    fx.defer(() => void kept.disconnect());
    const gone = await connected(rawSocket(controller.url, '/clients', { token: olga }));
    const closed = closedByServer(gone);
    await controller.auth.removeUser(ADMIN, 'olga');
    await closed;
    const job = await controller.jobs.list(1);
    const answer = (await kept.timeout(5000).emitWithAck(EV.jobSubscribe, { jobId: job[0]?.id ?? 'j0' })) as JobAck;
    expect(answer).to.deep.include({ ok: false, error: 'not_found' });
    expect(kept.connected).to.equal(true);
    await waitFor(() => !gone.connected, 'the revoked socket to be closed');
  });
});

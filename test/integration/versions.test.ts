import { expect } from 'chai';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { passwordTokens, startAgent } from '../../src/agent/index.js';
import { apiError, login, openStream, request } from '../../src/client/http.js';
import { httpCall } from '../../src/client/doctor-net.js';
import type { RunningController } from '../../src/controller/index.js';
import { EXIT, UserError } from '../../src/lib/errors.js';
import { silentLogger } from '../../src/lib/log.js';
import { VERSION } from '../../src/lib/version.js';
import { EV } from '../../src/protocol/events.js';
import { ADMIN_PASSWORD, Fixtures } from '../helpers/fixtures.js';
import { agentInfo, connected, rawSocket, refusal, userToken } from './support.js';

const OLD = '0.0.9';
const NEXT = '0.3.0';
const TOO_NEW = '0.4.0';

/** README "Versions and upgrades": peers say their version; the controller takes one minor release either side. */
describe('versions on the wire (real controller on port 0)', () => {
  const fx = new Fixtures();
  let controller: RunningController;

  before(async () => {
    controller = await fx.controller();
  });
  after(() => fx.cleanup());

  /** `POST /token` as the admin with the given `X-Ogent-Version` (none when undefined). */
  const loginAs = async (version: string | undefined) => {
    const res = await fetch(`${controller.url}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(version === undefined ? {} : { 'x-ogent-version': version }),
      },
      body: new URLSearchParams({ username: 'admin', password: ADMIN_PASSWORD }).toString(),
    });
    return { status: res.status, body: (await res.json()) as { error?: string; message?: string } };
  };

  it('HTTP: login and the API refuse an older client with 426 version_unsupported naming both versions', async () => {
    const refused = await loginAs(OLD);
    expect(refused.status).to.equal(426);
    expect(refused.body.error).to.equal('version_unsupported');
    expect(refused.body.message).to.equal(
      `this program runs ogent ${OLD}, which the controller (ogent ${VERSION}) no longer accepts: upgrade it to ogent 0.1 or later`,
    );
    const token = (await login(controller.url, 'admin', ADMIN_PASSWORD)).access_token;
    const jobs = await fetch(`${controller.url}/api/v1/jobs`, {
      headers: { authorization: `Bearer ${token}`, 'x-ogent-version': OLD },
    });
    expect(jobs.status).to.equal(426);
    expect(((await jobs.json()) as { error: string }).error).to.equal('version_unsupported');
  });

  it('HTTP: the first release (no header), this release and the next minor are accepted; two ahead is not', async () => {
    for (const version of [undefined, '0.1.3', VERSION, NEXT]) {
      expect((await loginAs(version)).status, String(version)).to.equal(200);
    }
    const ahead = await loginAs(TOO_NEW);
    expect(ahead.status).to.equal(426);
    expect(ahead.body.message).to.match(
      /runs ogent 0\.4\.0, newer than the controller .* upgrade the controller first/,
    );
  });

  it('HTTP: a header that is not a version is refused; health and metrics stay open to any prober', async () => {
    const garbage = await loginAs('banana');
    expect(garbage.status).to.equal(426);
    expect(garbage.body.message).to.match(/announces ogent version "banana", which is not a version/);
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      const res = await fetch(`${controller.url}${path}`, { headers: { 'x-ogent-version': OLD } });
      expect(res.status, path).to.equal(200);
    }
  });

  for (const namespace of ['/agents', '/clients']) {
    const peer = namespace === '/agents' ? 'agent' : 'client';
    let agents = 0;
    const tokenFor = () =>
      namespace === '/agents'
        ? userToken(controller, `v-agent-${++agents}`, 'agent')
        : login(controller.url, 'admin', ADMIN_PASSWORD).then((t) => t.access_token);

    it(`${namespace}: the handshake refuses an older or far newer ${peer} with data.code version_unsupported`, async () => {
      const token = await tokenFor();
      const old = await refusal(rawSocket(controller.url, namespace, { token, version: OLD }));
      expect(old.code).to.equal('version_unsupported');
      expect(old.message).to.equal(
        `this ${peer} runs ogent ${OLD}, which the controller (ogent ${VERSION}) no longer accepts: upgrade the ${peer} to ogent 0.1 or later`,
      );
      const ahead = await refusal(rawSocket(controller.url, namespace, { token, version: TOO_NEW }));
      expect(ahead.code).to.equal('version_unsupported');
      const odd = await refusal(rawSocket(controller.url, namespace, { token, version: 42 }));
      expect(odd.message).to.match(/announces ogent version "42", which is not a version/);
    });

    it(`${namespace}: the handshake takes no version (the first release), this one and the next minor`, async () => {
      const token = await tokenFor();
      for (const version of [undefined, '0.1.0', VERSION, NEXT]) {
        const auth = version === undefined ? { token } : { token, version };
        const socket = await connected(rawSocket(controller.url, namespace, auth));
        socket.disconnect();
      }
    });
  }

  it('agent_info of a version the controller does not take is refused with code version_unsupported', async () => {
    const token = await userToken(controller, 'v-info', 'agent');
    const socket = await connected(rawSocket(controller.url, '/agents', { token }));
    fx.defer(() => void socket.disconnect());
    const ack = (await socket
      .timeout(5000)
      .emitWithAck(EV.agentInfo, { ...agentInfo('v-info'), version: OLD })) as Record<string, unknown>;
    expect(ack).to.deep.equal({
      ok: false,
      code: 'version_unsupported',
      error: `this agent runs ogent ${OLD}, which the controller (ogent ${VERSION}) no longer accepts: upgrade the agent to ogent 0.1 or later`,
    });
    const next = (await socket.timeout(5000).emitWithAck(EV.agentInfo, { ...agentInfo('v-info'), version: NEXT })) as {
      ok: boolean;
    };
    expect(next.ok).to.equal(true);
  });
});

/** A stand-in controller that records what it is sent (real sockets), for what agents and clients announce. */
async function recorder(options: { refuseHandshake?: boolean; refuseInfo?: boolean } = {}) {
  const seen: { headers: IncomingHttpHeaders[]; auth: unknown[] } = { headers: [], auth: [] };
  const message = `this agent runs ogent ${VERSION}, which the controller (ogent 9.0.0) no longer accepts`;
  const server = createServer((req, res) => {
    seen.headers.push(req.headers);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ access_token: 'tok', token_type: 'bearer', expires_in: 3600, status: 'ok' }));
  });
  const io = new Server(server, { transports: ['websocket'] });
  io.of('/agents').use((socket, next) => {
    seen.auth.push(socket.handshake.auth);
    if (!options.refuseHandshake) return next();
    next(Object.assign(new Error(message), { data: { code: 'version_unsupported', message } }));
  });
  io.of('/agents').on('connection', (socket) => {
    socket.on(EV.agentInfo, (_info: unknown, ack: (r: unknown) => void) =>
      ack(options.refuseInfo ? { ok: false, code: 'version_unsupported', error: message } : { ok: true }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, seen, message, close: () => new Promise<void>((resolve) => void io.close(() => resolve())) };
}

describe('versions: what agents and clients announce, and how they take a refusal (real sockets)', () => {
  const fx = new Fixtures();
  afterEach(() => fx.cleanup());

  it('every HTTP request of the client (JSON, streams, doctor probes) carries X-Ogent-Version', async () => {
    const r = await recorder();
    fx.defer(r.close);
    await request(r.url, '/api/v1/jobs', { token: 't' });
    await login(r.url, 'admin', 'pw');
    (await openStream(r.url, '/api/v1/jobs/x/runs/y/output', 't')).body.resume();
    await httpCall(new URL('/healthz', r.url), { headers: { accept: 'application/json' } }, { timeoutMs: 5000 });
    expect(r.seen.headers.map((h) => h['x-ogent-version'])).to.deep.equal([VERSION, VERSION, VERSION, VERSION]);
  });

  it('a 426 version_unsupported is the client error of exit 4 with the message and the upgrade order', () => {
    const err = apiError(426, { error: 'version_unsupported', message: 'this program runs ogent 0.0.9, …' }, 'login');
    expect(err).to.be.instanceOf(UserError);
    expect(err.code).to.equal('ERR_VERSION_UNSUPPORTED');
    expect(err.exit).to.equal(EXIT.unreachable);
    expect(err.message).to.equal('the controller refused this version of ogent: this program runs ogent 0.0.9, …');
    expect(err.options.suggestion).to.match(/controllers first, then agents and clients/);
  });

  for (const refuse of ['handshake', 'agent_info'] as const) {
    it(`an agent refused for its version (${refuse}) announces it, stops connecting and says why`, async () => {
      const r = await recorder(refuse === 'handshake' ? { refuseHandshake: true } : { refuseInfo: true });
      fx.defer(r.close);
      const agent = await startAgent({
        controller: r.url,
        name: 'v-1',
        labels: {},
        stateDir: null,
        tokens: passwordTokens(r.url, 'v-1', 'pw'),
        log: silentLogger,
        minDelayMs: 20,
        maxDelayMs: 50,
      });
      fx.defer(() => agent.stop());
      expect(await agent.refused).to.equal(r.message);
      const attempts = r.seen.auth.length;
      expect(r.seen.auth[0]).to.deep.equal({ token: 'tok', version: VERSION });
      // Backoff would have tried again within 50 ms: ten times that later, still no new handshake.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(r.seen.auth.length).to.equal(attempts);
      expect(agent.client.connected).to.equal(false);
    });
  }
});

import { expect } from 'chai';
import { connect as netConnect, type Socket as NetSocket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { readFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import type { ControllerOptions, RunningController } from '../../src/controller/index.js';
import type { ConnectionLimits } from '../../src/controller/connection-limits.js';
import { REFUSED_TLS_PER_ADDRESS } from '../../src/controller/infrastructure/http/connection-gate.js';
import type { Role } from '../../src/domain/model.js';
import { makePki } from '../helpers/certs.js';
import { Fixtures, waitFor } from '../helpers/fixtures.js';
import { parsePrometheusText, sampleValue } from '../helpers/metrics-text.js';
import { connected, http, rawSocket, refusal, type RawSocket } from './support.js';

/** A TCP connection to the controller, what it received, and whether the controller closed it. */
interface Raw {
  socket: NetSocket;
  received(): string;
  closed: Promise<void>;
  isClosed(): boolean;
}

function track(socket: NetSocket): Raw {
  let text = '';
  let closed = false;
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => (text += d));
  socket.on('error', () => {});
  const done = new Promise<void>((resolve) =>
    socket.once('close', () => {
      closed = true;
      resolve();
    }),
  );
  return { socket, received: () => text, closed: done, isClosed: () => closed };
}

async function rawConnection(port: number): Promise<Raw> {
  const socket = netConnect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  return track(socket);
}

const GET = 'GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n';

/** Sends a GET on the connection and waits for its answer's status line. */
async function answered(raw: Raw, request = GET): Promise<string> {
  const before = raw.received().length;
  raw.socket.write(request);
  await waitFor(() => raw.received().length > before || raw.isClosed(), 'an answer', 5000);
  await waitFor(() => raw.received().includes('\r\n\r\n') || raw.isClosed(), 'the head', 5000);
  return raw.received().slice(before).split('\r\n')[0] ?? '';
}

/** Resolves when the controller closes the connection while `feed` writes a byte every `everyMs` (or rejects). */
async function closedWhileFeeding(raw: Raw, feed: () => string, everyMs: number, forMs: number) {
  const until = Date.now() + forMs;
  while (!raw.isClosed()) {
    if (Date.now() > until) throw new Error(`the connection stayed open for ${forMs} ms while it trickled`);
    raw.socket.write(feed());
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Issue 20, #9: connections and sockets are capped per address and per identity; slow requests time out. */
describe('connection limits (real server on port 0, real sockets)', () => {
  const fx = new Fixtures();
  const open: Array<{ close(): void } | RawSocket> = [];
  afterEach(async () => {
    for (const s of open.splice(0)) {
      if ('disconnect' in s) s.disconnect();
      else s.close();
    }
    await fx.cleanup();
  });

  const start = (limits: Partial<ConnectionLimits>, options: Partial<ControllerOptions> = {}) =>
    fx.controller({ connectionLimits: limits, ...options });
  const port = (c: RunningController) => Number(new URL(c.url).port);
  const raw = async (c: RunningController) => {
    const r = await rawConnection(port(c));
    open.push({ close: () => r.socket.destroy() });
    return r;
  };
  /** A token minted in process: logging in over HTTP would hold a keep-alive connection the test does not count. */
  const token = async (c: RunningController, name: string, role: Role) => {
    if (name !== 'admin') await c.auth.addUser({ name: 'admin', role: 'admin' }, name, role, `pw-${name}-123456`);
    return (await c.auth.issueFor(name)).token;
  };
  const socketOf = (c: RunningController, namespace: string, auth: { token: string }) => {
    const s = rawSocket(c.url, namespace, auth);
    open.push(s);
    return s;
  };
  /** `ogent_connections_refused_total{reason}`, read once the controller takes a connection again. */
  const refused = async (c: RunningController, reason: string) => {
    const res = await waitFor(async () => {
      const r = await http(c.url, '/metrics').catch(() => undefined);
      return r?.status === 200 && r;
    }, '/metrics');
    const families = parsePrometheusText(res.text);
    return sampleValue(families, 'ogent_connections_refused_total', { reason });
  };

  it('per address: at the cap every connection is served; one past it gets 503 too_many_connections', async () => {
    const controller = await start({ connectionsPerAddress: 4, unauthenticatedPerAddress: 100 });
    const held = [];
    for (let i = 0; i < 4; i++) held.push(await raw(controller));
    for (const r of held) expect(await answered(r)).to.equal('HTTP/1.1 200 OK');

    const past = await raw(controller);
    await past.closed;
    expect(past.received()).to.match(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
    expect(past.received()).to.include('Retry-After: 10');
    const body = JSON.parse(past.received().split('\r\n\r\n')[1] ?? '') as { error: string; message: string };
    expect(body.error).to.equal('too_many_connections');
    expect(body.message).to.match(/too many connections from 127\.0\.0\.1: 4 open.*--max-connections-per-address/);

    // One closes: a slot is free again.
    held.pop()?.socket.destroy();
    await waitFor(
      async () => (await http(controller.url, '/healthz').catch(() => undefined))?.status === 200,
      'a slot',
    );
    held.forEach((r) => r.socket.destroy());
    expect(await refused(controller, 'per_address')).to.be.at.least(1);
    expect(await refused(controller, 'per_user')).to.equal(0);
  });

  it('unauthenticated per address: authenticated WebSockets do not count; one unauthenticated past the cap is refused', async () => {
    const controller = await start({ connectionsPerAddress: 100, unauthenticatedPerAddress: 3 });
    const admin = await token(controller, 'admin', 'admin');
    // Four authenticated sockets: each is unauthenticated only until its handshake passes.
    for (let i = 0; i < 4; i++) await connected(socketOf(controller, '/clients', { token: admin }));
    const idle = [];
    for (let i = 0; i < 3; i++) idle.push(await raw(controller));
    for (const r of idle) expect(await answered(r)).to.equal('HTTP/1.1 200 OK');

    const past = await raw(controller);
    await past.closed;
    expect(past.received()).to.match(/^HTTP\/1\.1 503 /);
    expect(past.received()).to.match(/too many unauthenticated connections from 127\.0\.0\.1: 3 open/);
    // A WebSocket is unauthenticated until its handshake: refused too, before any handshake.
    const ws = await refusal(socketOf(controller, '/clients', { token: admin }));
    expect(ws.code).to.equal(undefined);

    idle.forEach((r) => r.socket.destroy());
    await waitFor(
      async () => (await http(controller.url, '/healthz').catch(() => undefined))?.status === 200,
      'a slot',
    );
    expect(await refused(controller, 'unauthenticated_per_address')).to.be.at.least(2);
  });

  it('per user on /clients: at the cap connected, one past refused with ERR_TOO_MANY_CONNECTIONS; others unaffected', async () => {
    const controller = await start({ socketsPerUser: 3 });
    const alice = await token(controller, 'alice', 'operator');
    const sockets = [];
    for (let i = 0; i < 3; i++) sockets.push(await connected(socketOf(controller, '/clients', { token: alice })));
    const past = await refusal(socketOf(controller, '/clients', { token: alice }));
    expect(past.code).to.equal('ERR_TOO_MANY_CONNECTIONS');
    expect(past.message).to.equal(
      'too many connections: user alice has 3 open on /clients, the most allowed (--max-sockets-per-user)',
    );
    await connected(socketOf(controller, '/clients', { token: await token(controller, 'bob', 'viewer') }));

    // One leaves: alice may connect again.
    sockets[0]?.disconnect();
    await waitFor(async () => {
      const s = socketOf(controller, '/clients', { token: alice });
      return connected(s).then(
        () => true,
        () => false,
      );
    }, 'a free slot for alice');
    expect(await refused(controller, 'per_user')).to.be.at.least(1);
  });

  it('per agent on /agents: at the cap connected, one past refused with ERR_TOO_MANY_CONNECTIONS', async () => {
    const controller = await start({ socketsPerAgent: 2 });
    const agent = await token(controller, 'web-1', 'agent');
    for (let i = 0; i < 2; i++) await connected(socketOf(controller, '/agents', { token: agent }));
    const past = await refusal(socketOf(controller, '/agents', { token: agent }));
    expect(past.code).to.equal('ERR_TOO_MANY_CONNECTIONS');
    expect(past.message).to.match(/agent web-1 has 2 open on \/agents/);
    expect(await refused(controller, 'per_agent')).to.equal(1);
  });

  it('slow HTTP: headers sent a byte at a time, a body that trickles and a silent connection are closed', async () => {
    const controller = await start({ headersTimeoutMs: 1000, requestTimeoutMs: 2000 });
    const slowHeaders = await raw(controller);
    slowHeaders.socket.write('GET /healthz HTTP/1.1\r\nHost: t\r\n');
    await closedWhileFeeding(slowHeaders, () => 'X', 200, 15_000);
    expect(slowHeaders.received()).to.not.include('200 OK');

    const slowBody = await raw(controller);
    slowBody.socket.write(
      'POST /token HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n',
    );
    await closedWhileFeeding(slowBody, () => ' ', 200, 15_000);
    expect(slowBody.received()).to.not.match(/HTTP\/1\.1 [24]0[01]/);

    const silent = await raw(controller);
    await Promise.race([
      silent.closed,
      new Promise((_, reject) => setTimeout(() => reject(new Error('a silent connection stayed open 15 s')), 15_000)),
    ]);
  });

  it('an idle keep-alive connection is closed after the keep-alive timeout', async () => {
    const controller = await start({ keepAliveTimeoutMs: 300 });
    const r = await raw(controller);
    expect(await answered(r)).to.equal('HTTP/1.1 200 OK');
    await Promise.race([
      r.closed,
      new Promise((_, reject) => setTimeout(() => reject(new Error('still open 4 s after its answer')), 4000)),
    ]);
  });

  it('a WebSocket that never passes a Socket.IO handshake is closed', async () => {
    const controller = await start({ socketHandshakeTimeoutMs: 500 });
    const r = await raw(controller);
    const upgrade =
      'GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
    expect(await answered(r, upgrade)).to.equal('HTTP/1.1 101 Switching Protocols');
    await Promise.race([
      r.closed,
      new Promise((_, reject) => setTimeout(() => reject(new Error('still open 10 s without a handshake')), 10_000)),
    ]);
  });

  it('over TLS: one past the per-address cap gets the 503 once its handshake is done', async () => {
    const pki = await makePki(await fx.tempDir());
    const controller = await start({ connectionsPerAddress: 1 }, { tls: { certFile: pki.cert, keyFile: pki.key } });
    const ca = await readFile(pki.ca, 'utf8');
    const held = tlsConnect({ port: port(controller), host: '127.0.0.1', ca });
    open.push({ close: () => held.destroy() });
    await new Promise<void>((resolve, reject) => held.once('secureConnect', resolve).once('error', reject));
    const first = track(held);
    expect(await answered(first)).to.equal('HTTP/1.1 200 OK');

    const res = await new Promise<{ status?: number; body: string }>((resolve, reject) => {
      const req = httpsRequest(`${controller.url}/healthz`, { ca, agent: false }, (r) => {
        let body = '';
        r.setEncoding('utf8');
        r.on('data', (d: string) => (body += d));
        r.on('end', () => resolve({ status: r.statusCode, body }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(res.status).to.equal(503);
    expect(JSON.parse(res.body)).to.include({ error: 'too_many_connections' });
  });

  it('over TLS: refused connections waiting for their handshake are bounded; past that, cut at once', async () => {
    const pki = await makePki(await fx.tempDir());
    const controller = await start({ connectionsPerAddress: 1 }, { tls: { certFile: pki.cert, keyFile: pki.key } });
    const held = await rawConnection(port(controller));
    open.push({ close: () => held.socket.destroy() });
    // Past the cap, and never starting a handshake: each waits its handshake time, up to the bound.
    const waiting: Raw[] = [];
    for (let i = 0; i < REFUSED_TLS_PER_ADDRESS; i++) waiting.push(await rawConnection(port(controller)));
    for (const w of waiting) open.push({ close: () => w.socket.destroy() });
    const past = await rawConnection(port(controller));
    open.push({ close: () => past.socket.destroy() });
    await Promise.race([
      past.closed,
      new Promise((_, reject) => setTimeout(() => reject(new Error('not cut although past the bound')), 5_000)),
    ]);
    expect(
      waiting.filter((w) => w.isClosed()),
      'refused connections within the bound were cut early',
    ).to.have.length(0);
    expect(held.isClosed()).to.equal(false);
  });
});

/**
 * The floor of `connect`: socket.io alone with ogent's handshake. `server SECRET`: an HTTP server with socket.io,
 * the /agents namespace and the same JWT check in middleware (jose, the controller's token service), answering
 * `agent_info` with an ack and nothing else. `clients CONFIG`: COUNT socket.io clients that connect with a token and
 * send `agent_info`, started on `go` over IPC and reporting how many were acknowledged, like swarm.ts.
 */
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { io, type Socket } from 'socket.io-client';
import { hostFacts } from '../../src/agent/facts.js';
import { JoseTokenService } from '../../src/controller/infrastructure/tokens.js';
import { LIMITS } from '../../src/protocol/events.js';
import { tokenIssuer } from './lib/fleet.js';

function server(secret: Buffer) {
  const tokens = new JoseTokenService(secret, 3600);
  const http = createServer();
  const ioServer = new Server(http, {
    maxHttpBufferSize: LIMITS.maxHttpBufferSize,
    pingInterval: 10_000,
    pingTimeout: 10_000,
  });
  const nsp = ioServer.of('/agents');
  nsp.use((socket, next) => {
    const token = (socket.handshake.auth as { token?: unknown }).token;
    if (typeof token !== 'string') return next(new Error('missing token'));
    tokens.verify(token).then(
      () => next(),
      () => next(new Error('token invalid')),
    );
  });
  nsp.on('connection', (socket) => {
    socket.on('agent_info', (_info: unknown, ack: unknown) => {
      if (typeof ack === 'function') ack({ ok: true });
    });
  });
  http.listen(0, '127.0.0.1', () => {
    const { port } = http.address() as { port: number };
    process.stdout.write(`listening on http://127.0.0.1:${port}\n`);
  });
  process.on('SIGTERM', () => process.exit(0));
}

function clients(config: { url: string; prefix: string; from: number; count: number; secret: string }) {
  const issue = tokenIssuer(Buffer.from(config.secret, 'base64'));
  const sockets: Socket[] = [];
  let acked = 0;
  const report = () => process.send?.({ type: 'attached', n: acked });
  process.on('message', (m: { type?: string }) => {
    if (m.type !== 'go') return;
    for (let i = 0; i < config.count; i++) {
      const name = `${config.prefix}-${config.from + i}`;
      const socket = io(`${config.url}/agents`, {
        transports: ['websocket'],
        auth: (cb) => void issue(name, 'agent').then((token) => cb({ token })),
      });
      socket.on('connect', () => {
        socket
          .timeout(60_000)
          .emitWithAck('agent_info', hostFacts(name, { swarm: config.prefix }, ['shell']))
          .then(() => {
            acked++;
            if (acked === config.count || acked % 100 === 0) report();
          })
          .catch(() => {});
      });
      sockets.push(socket);
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => {
    sockets.forEach((s) => s.disconnect());
    process.exit(0);
  });
  process.send?.({ type: 'loaded' });
}

const [mode, arg] = process.argv.slice(2);
if (mode === 'server') server(Buffer.from(arg ?? '', 'base64'));
else if (mode === 'clients') clients(JSON.parse(arg ?? '{}'));
else {
  process.stderr.write('usage: sio-floor.ts server SECRET_BASE64 | clients CONFIG_JSON\n');
  process.exit(2);
}

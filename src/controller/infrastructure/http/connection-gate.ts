import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket as NetSocket } from 'node:net';
import type { Namespace, Socket } from 'socket.io';
import type { Logger } from '../../../lib/log.js';
import type { ConnectionLimits, RefusalReason } from '../../connection-limits.js';
import type { Identity } from '../../application/ports.js';

type Listener = (...args: never[]) => void;
interface Counts {
  total: number;
  unauthenticated: number;
}
interface Connection {
  address: string;
  authenticated: boolean;
}

/** Refusals are logged at most this often per reason (a flood must not flood the log too). */
const LOG_EVERY_MS = 60_000;
/** A refused connection gets this long to read its 503 before it is cut. */
const REFUSED_LINGER_MS = 2000;
/**
 * Refused TLS connections of one address waiting for their handshake (to be told why): past this many, the next ones
 * are cut at once, so a flood past the cap neither holds sockets nor costs the server a handshake each.
 */
export const REFUSED_TLS_PER_ADDRESS = 16;

const FLAG: Record<RefusalReason, string> = {
  per_address: '--max-connections-per-address',
  unauthenticated_per_address: '--max-unauthenticated-per-address',
  per_user: '--max-sockets-per-user',
  per_agent: 'the per-agent cap',
};

/** IPv4 clients of a dual-stack listener show as `::ffff:a.b.c.d`: one address either way. */
const addressOf = (socket: NetSocket) => socket.remoteAddress?.replace(/^::ffff:(?=\d+\.)/, '');
/** Names one TCP connection from both its raw socket and, with TLS, the TLS socket over it (same peer). */
const keyOf = (socket: NetSocket) => `${socket.remoteAddress}|${socket.remotePort}`;

function socketIoRefusal(message: string): Error {
  return Object.assign(new Error(message), { data: { code: 'ERR_TOO_MANY_CONNECTIONS', message } });
}

/**
 * Caps connections per client address (all of them, and those not authenticated yet) at the HTTP server, and
 * Socket.IO connections per identity in a namespace. Past a cap a connection is refused at once: `503
 * {error: "too_many_connections"}` on HTTP (over TLS once its handshake is done), a `connect_error` with
 * `data.code` `ERR_TOO_MANY_CONNECTIONS` on Socket.IO. Counts are per controller process.
 */
export class ConnectionGate {
  private readonly byAddress = new Map<string, Counts>();
  private readonly connections = new Map<string, Connection>();
  /** TLS connections refused at accept, answered once their handshake is done; and how many per address. */
  private readonly refusedTls = new Map<string, string>();
  private readonly refusedTlsPerAddress = new Map<string, number>();
  private readonly loggedAt = new Map<RefusalReason, number>();

  constructor(
    private readonly limits: ConnectionLimits,
    private readonly log: Logger,
    private readonly onRefused: (reason: RefusalReason) => void = () => {},
  ) {}

  /** Takes over the server's accept path: its own listeners run only for the connections let in. */
  attach(server: HttpServer | HttpsServer, tls: boolean): void {
    const accept = server.listeners('connection') as Listener[];
    server.removeAllListeners('connection');
    server.on('connection', (socket: NetSocket) => {
      const refusal = this.admit(socket);
      if (!refusal) return accept.forEach((l) => (l as (s: NetSocket) => void).call(server, socket));
      if (!tls) return answerRefused(socket, refusal);
      const address = addressOf(socket) ?? '';
      const waiting = this.refusedTlsPerAddress.get(address) ?? 0;
      if (waiting >= REFUSED_TLS_PER_ADDRESS) return socket.destroy();
      this.refusedTlsPerAddress.set(address, waiting + 1);
      const key = keyOf(socket);
      this.refusedTls.set(key, refusal);
      socket.once('close', () => {
        this.refusedTls.delete(key);
        const left = (this.refusedTlsPerAddress.get(address) ?? 1) - 1;
        if (left > 0) this.refusedTlsPerAddress.set(address, left);
        else this.refusedTlsPerAddress.delete(address);
      });
      // Its handshake gets the usual time; then it is answered (below) or cut.
      lingerThenCut(socket, this.limits.tlsHandshakeTimeoutMs + REFUSED_LINGER_MS);
      accept.forEach((l) => (l as (s: NetSocket) => void).call(server, socket));
    });
    // A WebSocket that has not passed a Socket.IO handshake in time is cut: Socket.IO closes it then, but the close
    // handshake waits 30 s for a peer that may never answer.
    server.on('upgrade', (_req: unknown, socket: NetSocket) => {
      const connection = this.connections.get(keyOf(socket));
      if (connection) lingerThenCut(socket, this.limits.socketHandshakeTimeoutMs + REFUSED_LINGER_MS, connection);
    });
    if (!tls) return;
    const secured = server.listeners('secureConnection') as Listener[];
    server.removeAllListeners('secureConnection');
    server.on('secureConnection', (socket: NetSocket) => {
      const refusal = this.refusedTls.get(keyOf(socket));
      if (refusal === undefined) return secured.forEach((l) => (l as (s: NetSocket) => void).call(server, socket));
      answerRefused(socket, refusal);
    });
  }

  /** Counts a new connection in, or says why it is refused. */
  private admit(socket: NetSocket): string | undefined {
    const address = addressOf(socket);
    if (address === undefined) return undefined; // already gone
    const counts = this.byAddress.get(address) ?? { total: 0, unauthenticated: 0 };
    if (counts.total >= this.limits.connectionsPerAddress) {
      return this.refuse(
        'per_address',
        `too many connections from ${address}: ${counts.total} open, the most allowed (${FLAG.per_address})`,
      );
    }
    if (counts.unauthenticated >= this.limits.unauthenticatedPerAddress) {
      return this.refuse(
        'unauthenticated_per_address',
        `too many unauthenticated connections from ${address}: ${counts.unauthenticated} open, the most allowed (${FLAG.unauthenticated_per_address})`,
      );
    }
    counts.total++;
    counts.unauthenticated++;
    this.byAddress.set(address, counts);
    const key = keyOf(socket);
    const connection: Connection = { address, authenticated: false };
    this.connections.set(key, connection);
    socket.once('close', () => {
      this.connections.delete(key);
      counts.total--;
      if (!connection.authenticated) counts.unauthenticated--;
      if (counts.total === 0) this.byAddress.delete(address);
    });
    return undefined;
  }

  /** A Socket.IO handshake passed on this TCP connection: it no longer counts as unauthenticated. */
  private authenticated(socket: NetSocket | undefined): void {
    const connection = socket && this.connections.get(keyOf(socket));
    if (!connection || connection.authenticated) return;
    connection.authenticated = true;
    const counts = this.byAddress.get(connection.address);
    if (counts) counts.unauthenticated--;
  }

  /**
   * At most `max` sockets per identity in `nsp`. Added after the namespace's authentication middleware: it reads
   * the identity that one set.
   */
  limitPerIdentity(nsp: Namespace, max: number, reason: 'per_user' | 'per_agent'): void {
    const open = new Map<string, number>();
    nsp.use((socket: Socket, next: (err?: Error) => void) => {
      const name = (socket.data as { identity?: Identity }).identity?.name;
      if (name === undefined) return next();
      const count = open.get(name) ?? 0;
      if (count >= max) {
        const what = reason === 'per_user' ? 'user' : 'agent';
        return next(
          socketIoRefusal(
            this.refuse(
              reason,
              `too many connections: ${what} ${name} has ${count} open on ${nsp.name}, the most allowed (${FLAG[reason]})`,
            ),
          ),
        );
      }
      open.set(name, count + 1);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        const left = (open.get(name) ?? 1) - 1;
        if (left > 0) open.set(name, left);
        else open.delete(name);
      };
      this.authenticated(socket.request.socket);
      // A connection that starts with HTTP long-polling moves to a WebSocket on another TCP connection.
      const upgraded = (transport: { socket?: { _socket?: NetSocket } }) =>
        this.authenticated(transport.socket?._socket);
      socket.conn.once('upgrade', upgraded);
      // Whichever comes first: the socket leaves, or its connection closes before it ever joined.
      socket.conn.once('close', release);
      socket.once('disconnect', () => {
        socket.conn.off('close', release);
        socket.conn.off('upgrade', upgraded);
        release();
      });
      next();
    });
  }

  private refuse(reason: RefusalReason, message: string): string {
    this.onRefused(reason);
    const now = Date.now();
    if (now - (this.loggedAt.get(reason) ?? 0) >= LOG_EVERY_MS) {
      this.loggedAt.set(reason, now);
      this.log.warn(`connection refused: ${message}; more refusals for this reason are not logged for a minute`, {
        reason,
      });
    }
    return message;
  }
}

/** A 503 with the reason, then the connection closes (cut if the peer does not close it). */
function answerRefused(socket: NetSocket, message: string): void {
  const body = JSON.stringify({ error: 'too_many_connections', message });
  socket.on('error', () => {}); // a peer that resets is fine: it was being turned away
  socket.end(
    'HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\nRetry-After: 10\r\nConnection: close\r\n\r\n${body}`,
  );
  lingerThenCut(socket, REFUSED_LINGER_MS);
}

/** Destroys `socket` after `ms`, unless it closed, or `unless` (its connection) was authenticated by then. */
function lingerThenCut(socket: NetSocket, ms: number, unless?: Connection): void {
  const cut = setTimeout(() => unless?.authenticated || socket.destroy(), ms);
  cut.unref();
  socket.once('close', () => clearTimeout(cut));
}

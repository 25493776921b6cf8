import { io, type Socket } from 'socket.io-client';
import { wsTransports } from '../lib/ws-transport.js';
import { NAMESPACE, type ClientsToServer, type ServerToClients } from '../protocol/events.js';
import { authError, unreachableError } from '../lib/errors.js';
import { VERSION } from '../lib/version.js';
import { VERSION_UNSUPPORTED } from '../protocol/version.js';
import { request, tooManyConnections, versionUnsupported } from './http.js';
import { certificateError } from './tls.js';
import type { Session } from './credentials.js';

export type ClientSocket = Socket<ServerToClients, ClientsToServer>;

/** A new connection to the session's controller's `/clients` namespace. */
export async function connectClients(session: Session): Promise<ClientSocket> {
  await session.token();
  return io(`${session.controller}${NAMESPACE.clients}`, {
    transports: wsTransports(session.controller),
    ...(session.ca ? { ca: session.ca } : {}),
    // Asked again on every reconnect, so a session that logs in with OGENT_USERNAME/OGENT_PASSWORD can renew.
    auth: (cb) => {
      session.token().then(
        (token) => cb({ token, version: VERSION }),
        () => cb({ token: '', version: VERSION }),
      );
    },
    reconnectionDelay: 250,
    reconnectionDelayMax: 3000,
    // Never a connection shared with an earlier stream (one to a controller this one failed over from).
    forceNew: true,
  });
}

/** What a job stream does as its link to the controller comes and goes. */
export interface LinkEvents {
  /** The job followed, once known (it changes what running out of patience says). */
  jobId(): string | undefined;
  /** A socket connected (the first time, after a reconnect, or one failed over to). */
  connected(socket: ClientSocket): void;
  /** The connection was lost. */
  disconnected(): void;
  /** A new socket (the first, or one failed over to): listen to its job events. */
  wire(socket: ClientSocket): void;
  /** Given up: refused (token, caps, certificate) or out of patience. */
  fail(err: Error): void;
}

/**
 * A job stream's connection to the controller: connects, reconnects, fails over to another healthy controller of a
 * cluster, and gives up after `patienceMs` away (exit 4), or at once when refused.
 */
export class ControllerLink {
  private closed = false;
  private everConnected = false;
  private awayTimer: NodeJS.Timeout | undefined;
  private switching = false;
  private readonly stopping = new AbortController();

  constructor(
    private readonly session: Session,
    public socket: ClientSocket,
    private readonly patienceMs: number,
    private readonly events: LinkEvents,
  ) {
    this.attach(socket);
  }

  /** Never connected yet: bounded by --request-timeout, then said as `ogent doctor` would (frozen, no TLS…). */
  private get firstTimeout(): number {
    return Math.min(this.patienceMs, this.session.timeoutMs ?? this.patienceMs);
  }

  private whyNotConnected(): Promise<Error> {
    const { controller, ca } = this.session;
    return request(controller, '/healthz', { timeoutMs: this.firstTimeout, ca }).then(
      () => unreachableError(`cannot connect to the controller at ${controller}`, 'run `ogent doctor`'),
      (err: Error) => err,
    );
  }

  /** Away from the controller: patience starts (unless it already runs). */
  startAwayTimer(): void {
    const jobId = this.events.jobId();
    const first = !this.everConnected && jobId === undefined && (this.session.candidates?.length ?? 1) < 2;
    if (first) {
      this.awayTimer ??= setTimeout(
        () => void this.whyNotConnected().then((err) => !this.everConnected && this.events.fail(err)),
        this.firstTimeout,
      );
      return;
    }
    this.awayTimer ??= setTimeout(() => {
      const resume = jobId ? `; the job goes on: resume with \`ogent jobs wait ${jobId}\`` : '';
      const where =
        (this.session.candidates?.length ?? 0) > 1
          ? `any of the controllers (${this.session.candidates?.join(', ')})`
          : `the controller at ${this.session.controller}`;
      this.events.fail(
        unreachableError(
          `cannot reach ${where}${resume}`,
          'check that `ogent controller serve` runs there, or pass --controller / set OGENT_CONTROLLER',
        ),
      );
    }, this.patienceMs);
  }

  /** Served again (after a broken read): no longer away, when connected. */
  served(): void {
    if (!this.socket.connected) return;
    clearTimeout(this.awayTimer);
    this.awayTimer = undefined;
  }

  /**
   * Several controllers (a cluster sharing a Redis): when the one in use goes away, the job is followed on another
   * that answers healthy. The new connection subscribes again, which fills in what was missed. The session's
   * controller (the one HTTP reads go to) moves only once the new connection is made.
   */
  failOver(): void {
    const { probe, use } = this.session;
    if (this.switching || this.closed || !probe || !use || (this.session.candidates?.length ?? 0) < 2) return;
    this.switching = true;
    const from = this.session.controller;
    probe(this.stopping.signal)
      .then(async (healthy) => {
        if (!healthy || healthy === from || this.closed || this.socket.connected) return;
        use(healthy);
        const next = await connectClients(this.session).catch(() => undefined);
        // Failed, back meanwhile, or done: the connection in use stays, and so does its controller.
        if (!next || this.closed || this.socket.connected) {
          next?.disconnect();
          if (this.session.controller === healthy) use(from);
          return;
        }
        this.socket.removeAllListeners();
        this.socket.disconnect();
        this.socket = next;
        this.attach(next);
      })
      .catch(() => {})
      .finally(() => (this.switching = false));
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.awayTimer);
    this.stopping.abort();
    this.socket.disconnect();
  }

  private attach(s: ClientSocket): void {
    s.on('connect', () => {
      this.everConnected = true;
      clearTimeout(this.awayTimer);
      this.awayTimer = undefined;
      this.events.connected(s);
    });
    s.on('connect_error', (err: Error & { data?: { code?: string; message?: string } }) => {
      const code = err.data?.code;
      if (code === 'ERR_TOKEN_EXPIRED') {
        return this.events.fail(
          authError('token expired', 'run `ogent login` again, or set OGENT_USERNAME and OGENT_PASSWORD', code),
        );
      }
      if (code === 'ERR_TOO_MANY_CONNECTIONS') return this.events.fail(tooManyConnections(err.data?.message ?? code));
      if (code === VERSION_UNSUPPORTED) return this.events.fail(versionUnsupported(err.data?.message ?? code));
      if (code) {
        return this.events.fail(
          authError(`refused by the controller: ${err.data?.message ?? code}`, 'run `ogent login`', code),
        );
      }
      // A certificate this client does not trust will not become trusted by waiting.
      const untrusted = certificateError(this.session.controller, err);
      if (untrusted) return this.events.fail(untrusted);
      this.startAwayTimer();
      this.failOver();
    });
    s.on('disconnect', () => {
      if (this.closed) return;
      this.startAwayTimer();
      this.events.disconnected();
      this.failOver();
    });
    this.events.wire(s);
  }
}

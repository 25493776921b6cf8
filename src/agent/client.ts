import { io, type Socket } from 'socket.io-client';
import { wsTransports } from '../lib/ws-transport.js';
import {
  EV,
  executeCommandCheck,
  NAMESPACE,
  runIdPayloadCheck,
  type AgentsToServer,
  type ServerToAgents,
} from '../protocol/events.js';
import type { AgentInfo } from '../domain/model.js';
import { certificateError } from '../lib/tls-errors.js';
import { parse } from '../protocol/validate.js';
import { STDIN_EV, stdinChunkCheck } from '../protocol/stdin.js';
import { VERSION_UNSUPPORTED } from '../protocol/version.js';
import { VERSION } from '../lib/version.js';
import type { Logger } from '../lib/log.js';
import type { AgentManager } from './manager.js';
import type { AgentMetrics } from './metrics.js';

export interface TokenSource {
  /** A valid token, fetching a new one when `refresh` is set or the cached one is near expiry. */
  get(refresh?: boolean): Promise<string>;
}

/** How the agent checks the controller's certificate on an https:// URL. */
export interface TlsTrust {
  /** PEM to trust besides the system's CAs (`--ca FILE`). */
  ca?: string;
  /** False only for the controller's in-process agent, on loopback to its own socket. */
  rejectUnauthorized?: boolean;
}

export interface AgentClientOptions {
  /** One controller, or several (scale-out): the agent fails over between them, in turn, with backoff. */
  url: string | string[];
  tls?: TlsTrust;
  tokens: TokenSource;
  info: () => AgentInfo;
  manager: AgentManager;
  log: Logger;
  /** Backoff cap between reconnection attempts. */
  maxDelayMs?: number;
  minDelayMs?: number;
  metrics?: AgentMetrics;
  /**
   * The controller refused this agent's version (README "Versions and upgrades"): the agent stops connecting, since
   * retrying cannot help, and this is told why.
   */
  onRefused?: (message: string) => void;
}

const RESULT_ACK_TIMEOUT_MS = 20_000;
/** The controller holds a `stdin_read` up to 10 s waiting for bytes: well within this. */
const STDIN_READ_TIMEOUT_MS = 30_000;
/**
 * Backoff cap between reconnection attempts. Low enough that a fleet is back within seconds of the controller's
 * return (issue 4), high enough that 1,000 waiting agents cost a down controller ~125 refused connections a second.
 */
const MAX_RECONNECT_DELAY_MS = 8000;
/**
 * Packets queued in the engine beyond which the agent stops reading command output until it drains: a chunk of output
 * is two packets (the event and its binary attachment), so ~8 chunks of up to 512 KiB.
 */
const BACKLOG_PACKETS = 16;
/**
 * Bytes the WebSocket holds unsent (not yet taken by the kernel) beyond which the agent stops reading command output.
 * engine.io-client's WebSocket transport reports itself drained as soon as it has handed packets to `ws`, so its queue
 * stays short however slow the connection: what piles up when the controller reads slowly is in `ws`.
 */
const BACKLOG_BYTES = 2 * 1024 * 1024;
/** While paused, how often the backlog is checked besides the sockets' `drain` events. */
const BACKLOG_POLL_MS = 50;

type Engine = Socket['io']['engine'];
/** The `ws` WebSocket under the engine's transport, when it is one (it is: agents connect with WebSocket only). */
const wsOf = (engine: Engine) =>
  (engine.transport as unknown as { ws?: { bufferedAmount?: number; _socket?: NodeJS.EventEmitter } } | undefined)?.ws;

/** True while the connection holds more unsent output than it should: the agent's output readers pause. */
function backlogged(engine: Engine): boolean {
  return engine.writeBuffer.length > BACKLOG_PACKETS || (wsOf(engine)?.bufferedAmount ?? 0) > BACKLOG_BYTES;
}

/** One wait per connection, shared by every run paused on it (one set of listeners and one timer, not one per run). */
const draining = new WeakMap<Engine, Promise<void>>();

/** Resolves once `engine` is no longer backlogged, or closes. */
function drained(engine: Engine): Promise<void> {
  const pending = draining.get(engine);
  if (pending) return pending;
  const wait = new Promise<void>((resolve) => {
    const raw = wsOf(engine)?._socket;
    const check = () => {
      if (!backlogged(engine)) done();
    };
    const poll = setInterval(check, BACKLOG_POLL_MS);
    const done = () => {
      clearInterval(poll);
      engine.off('drain', check);
      engine.off('close', done);
      raw?.off('drain', check);
      raw?.off('close', done);
      resolve();
    };
    engine.on('drain', check);
    engine.on('close', done);
    raw?.on('drain', check);
    raw?.on('close', done);
  }).finally(() => draining.delete(engine));
  draining.set(engine, wait);
  return wait;
}

/** The agent's connection: authenticate, connect out to /agents, reconnect forever with backoff and jitter. */
export class AgentClient {
  private socket: Socket<ServerToAgents, AgentsToServer> | null = null;
  private retry: NodeJS.Timeout | undefined;
  private attempt = 0;
  private stopped = false;
  private refreshToken = false;
  private readyResolvers: Array<() => void> = [];
  private readonly urls: string[];
  /** The controller tried last (several URLs: the next one is tried after a failure). */
  private index = 0;

  constructor(private readonly options: AgentClientOptions) {
    this.urls = Array.isArray(options.url) ? options.url : [options.url];
  }

  /** Resolves once connected and registered the first time. */
  start(): Promise<void> {
    const ready = new Promise<void>((resolve) => this.readyResolvers.push(resolve));
    this.open();
    return ready;
  }

  /** With several controllers the agent moves to the next one itself instead of socket.io's retries of one URL. */
  private get failover(): boolean {
    return this.urls.length > 1;
  }

  private open(): void {
    const { log } = this.options;
    const url = this.urls[this.index % this.urls.length] as string;
    const socket: Socket<ServerToAgents, AgentsToServer> = io(`${url}${NAMESPACE.agents}`, {
      transports: wsTransports(url),
      ...(this.options.tls?.ca ? { ca: this.options.tls.ca } : {}),
      ...(this.options.tls?.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
      autoConnect: false,
      reconnection: !this.failover,
      forceNew: this.failover,
      reconnectionDelay: this.options.minDelayMs ?? 500,
      reconnectionDelayMax: this.options.maxDelayMs ?? MAX_RECONNECT_DELAY_MS,
      randomizationFactor: 0.5,
      auth: (cb) => {
        const refresh = this.refreshToken;
        this.refreshToken = false;
        this.options.tokens.get(refresh).then(
          (token) => cb({ token, version: VERSION }),
          (err: Error) => {
            log.warn('cannot get a token', { error: err.message });
            cb({ token: '', version: VERSION });
          },
        );
      },
    });
    this.socket = socket;

    socket.on('connect', () => {
      const connection = socket.id;
      this.attempt = 0;
      this.options.metrics?.connected();
      const info = this.options.info();
      socket
        .timeout(RESULT_ACK_TIMEOUT_MS)
        .emitWithAck(EV.agentInfo, info)
        .then((ack) => {
          if (!ack.ok) {
            if (ack.code === VERSION_UNSUPPORTED) return this.refused(ack.error ?? ack.code);
            log.error('controller refused agent_info', { error: ack.error });
            return;
          }
          log.info('connected', { controller: url, name: info.name });
          if (ack.held?.length) {
            log.warn("the controller holds this agent's new labels or facts until an admin accepts them", {
              held: ack.held,
              accept: `ogent agents accept ${info.name}`,
            });
          }
          this.options.manager.attach({
            // Not buffered while offline: the manager re-sends unacknowledged output on the next connect.
            sendProgress: (p) => {
              if (socket.connected) socket.emit(EV.commandProgress, p);
            },
            sendResult: (r) => socket.timeout(RESULT_ACK_TIMEOUT_MS).emitWithAck(EV.commandResult, r),
            backlogged: () => backlogged(socket.io.engine),
            drained: () => drained(socket.io.engine),
            readStdin: (runId, offset) =>
              socket
                .timeout(STDIN_READ_TIMEOUT_MS)
                .emitWithAck(STDIN_EV.read, { runId, offset })
                .then((raw) => parse(stdinChunkCheck, raw)),
          });
          this.readyResolvers.splice(0).forEach((r) => r());
        })
        .catch((err: Error) => {
          log.warn('agent_info not acknowledged; connecting again', { error: err.message });
          // Connected but never registered is worse than offline: runs would be dispatched and never reported.
          if (!this.stopped && socket.connected && socket.id === connection) {
            socket.disconnect();
            this.scheduleReconnect();
          }
        });
    });
    socket.on('disconnect', (reason) => {
      this.options.manager.detach();
      this.options.metrics?.disconnected();
      if (this.stopped || socket !== this.socket) return;
      log.warn('disconnected', { reason, controller: url });
      // The server closed us on purpose (e.g. replaced, removed): socket.io will not retry by itself.
      if (reason === 'io server disconnect' || this.failover) this.scheduleReconnect(this.failover);
    });
    socket.on('connect_error', (err: Error & { data?: { code?: string } }) => {
      if (this.stopped) return;
      const code = err.data?.code;
      if (code === VERSION_UNSUPPORTED) return this.refused(err.message);
      if (code) {
        // Refused by the middleware: socket.io does not retry these; fetch a new token and retry with backoff.
        log.warn('connection refused', { code, message: err.message });
        this.refreshToken = true;
        this.scheduleReconnect();
      } else {
        const untrusted = certificateError(url, err);
        // Retried all the same: the controller's certificate may be fixed; meanwhile say why, loudly.
        if (untrusted) log.error(untrusted.message, { try: untrusted.options.suggestion, controller: url });
        else log.debug('connect failed', { error: err.message, controller: url });
        if (this.failover) this.scheduleReconnect(true);
      }
    });
    socket.on(EV.executeCommand, (raw, ack) => {
      if (typeof ack !== 'function') return;
      try {
        ack(this.options.manager.execute(parse(executeCommandCheck, raw)));
      } catch (err) {
        ack({ accepted: false, reason: `invalid execute_command: ${(err as Error).message}` });
      }
    });
    socket.on(EV.serverShutdown, (notice) => {
      log.info('controller shutting down; will reconnect', { reason: notice?.reason });
    });
    socket.on(EV.cancelCommand, (raw, ack) => {
      try {
        this.options.manager.cancel(parse(runIdPayloadCheck, raw).runId);
        if (typeof ack === 'function') ack({ ok: true });
      } catch {
        if (typeof ack === 'function') ack({ ok: false });
      }
    });
    socket.connect();
  }

  /** Refused for its version: no more attempts (each would be refused the same way). */
  private refused(message: string): void {
    this.stopped = true;
    clearTimeout(this.retry);
    this.socket?.disconnect();
    this.options.log.error('the controller refused this version of the agent', { error: message });
    this.options.onRefused?.(message);
  }

  /** `next`: that controller cannot be reached; with several, try the next one (a failover). */
  private scheduleReconnect(next = false): void {
    clearTimeout(this.retry);
    const min = this.options.minDelayMs ?? 500;
    const max = this.options.maxDelayMs ?? MAX_RECONNECT_DELAY_MS;
    const base = Math.min(max, min * 2 ** Math.min(this.attempt++, 16));
    const delay = base / 2 + Math.random() * (base / 2);
    this.retry = setTimeout(() => {
      if (this.stopped) return;
      if (!this.failover) return void this.socket?.connect();
      // A new connection to the next controller (after a refusal, the same one again with a new token).
      const old = this.socket;
      old?.removeAllListeners();
      old?.disconnect();
      if (next) this.index += 1;
      this.open();
    }, delay);
  }

  get connected(): boolean {
    return this.socket?.connected ?? false;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    this.socket?.disconnect();
  }
}

import { createServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import type { RunningAgent } from '../agent/index.js';
import { startLocalAgent } from './local-agent.js';
import { LIMITS, NAMESPACE } from '../protocol/events.js';
import { StartupError } from '../lib/errors.js';
import { isLoopback } from '../lib/net.js';
import { CONNECTION_LIMITS, type ConnectionLimits } from './connection-limits.js';
import type { Logger } from '../lib/log.js';
import { AgentService } from './application/agent-service.js';
import { AuditService } from './application/audit-service.js';
import { AuthService } from './application/auth-service.js';
import { EnrollmentService } from './application/enrollment-service.js';
import { JobService } from './application/job-service.js';
import { PlanService } from './application/plan-service.js';
import { ChatCompletionsClient, type ChatCompletionsOptions } from './infrastructure/ai/chat-completions.js';
import { LoginGuard, type LoginLimits, type LoginLoad } from './application/login-guard.js';
import { SessionService } from './application/session-service.js';
import { buildApi, type ApiDeps } from './infrastructure/http/api.js';
import { ConnectionGate } from './infrastructure/http/connection-gate.js';
import { addOpsRoutes, type OpsDeps } from './infrastructure/http/ops.js';
import { loadTls, type TlsFiles } from './infrastructure/http/tls.js';
import { ensureOwnTls, serverAltNames } from './infrastructure/http/own-ca.js';
import { ControllerMetrics } from './infrastructure/metrics.js';
import { drained } from './infrastructure/socket/drain.js';
import { AgentSockets } from './infrastructure/socket/agent-sockets.js';
import { ClientSockets } from './infrastructure/socket/client-sockets.js';
import { MemoryLoginCounters } from './infrastructure/login-counters.js';
import { openLowdbStore } from './infrastructure/store/lowdb-store.js';
import { probeDataDir } from './infrastructure/store/probe.js';
import { JoseTokenService } from './infrastructure/tokens.js';
import { startStdin, type StdinOptions, type StdinStore } from './stdin.js';

export interface ControllerOptions extends StdinOptions {
  host: string;
  port: number;
  dataDir: string;
  tokenTtlSeconds: number;
  /** How long a person's refresh token lasts (default 12 h; 0: no refresh tokens). */
  refreshTtlSeconds?: number;
  adminPassword?: string;
  localAgent?: boolean | { name?: string; labels?: Record<string, string> };
  log: Logger;
  /** Wait this long for a vanished agent before its runs are lost. */
  lostAfterMs?: number;
  resultGraceMs?: number;
  /** An OpenAI-compatible endpoint for `exec --ai` and `--review`; without it they fail with how to configure one. */
  ai?: ChatCompletionsOptions;
  retainJobs?: number;
  retainDays?: number;
  /** Serve `GET /metrics` (default true; `controller serve --no-metrics` turns it off). */
  metrics?: boolean;
  /**
   * Failed logins allowed per window on `POST /token` (default 50 per address, 10 per user name, per minute); with
   * `redis`, for the whole cluster.
   */
  loginLimits?: LoginLimits;
  /** Serve HTTPS/WSS with this certificate and key (`--tls-cert`, `--tls-key`). */
  tls?: TlsFiles;
  /**
   * Without `tls`: serve HTTPS/WSS with the controller's own CA in `DATA_DIR/tls` (README, TLS), its certificate
   * valid for the listen host, this host's names and addresses, and `names` (`--tls-san`).
   */
  ownTls?: { names: string[] };
  /** Bytes a live client may fall behind before its live output is dropped and it resyncs (default 4 MiB). */
  clientBacklogBytes?: number;
  /** engine.io's heartbeat: a ping every `intervalMs`, its pong due within `timeoutMs` (default 10 s and 10 s). */
  heartbeat?: { intervalMs: number; timeoutMs: number };
  /**
   * Scale-out (docs/architecture.md §5): share state and events with other controllers through this Redis (redis://host:port/db).
   * The data dir is then not used for state.
   */
  redis?: string;
  /** Key prefix in Redis (default `ogent:`), for several installations in one database. */
  redisPrefix?: string;
  /** Caps on connections per address and per identity, and connection timeouts (default CONNECTION_LIMITS). */
  connectionLimits?: Partial<ConnectionLimits>;
}

/** In-flight HTTP requests get this long to finish during a graceful shutdown. */
const IN_FLIGHT_GRACE_MS = 2000;
/** And the shutdown notice this long to leave the connections' buffers. */
const NOTICE_FLUSH_MS = 1000;

export interface RunningController {
  url: string;
  port: number;
  /** The controller's own CA (`ownTls`): its file and `sha256:` fingerprint. */
  ca?: { path: string; fingerprint: string };
  /** Set when the first start created `admin` with a generated password. */
  generatedAdminPassword?: string;
  auth: AuthService;
  jobs: JobService;
  agents: AgentService;
  plans: PlanService;
  /** The audit log: `audit.required(...)` / `audit.record(...)` (AuditService). */
  audit: AuditService;
  localAgent?: RunningAgent;
  /** Bytes waiting in the controller for each connected `/clients` socket (backpressure). */
  clientBacklogs(): number[];
  /** Output received from agents and not stored yet (monitoring, tests). */
  unstoredOutputBytes(): number;
  /** Login checks in flight and the most ever at once, per address and in scrypt (monitoring, tests). */
  logins(): LoginLoad;
  /**
   * Graceful shutdown: refuses new jobs (503), cancels the local agent's runs, tells every connection, closes the
   * sockets (agents and clients reconnect), writes what is pending, releases the store.
   */
  close(): Promise<void>;
}

/** The store, and in scale-out mode the cluster around it; Redis modules are loaded only for `--redis`. */
async function openStore(options: ControllerOptions) {
  if (!options.redis) return { store: await openLowdbStore(options.dataDir, options.log), scaleOut: undefined };
  const { openScaleOut } = await import('./infrastructure/cluster/scale-out.js');
  const scaleOut = await openScaleOut(options.redis, options.redisPrefix, options.log);
  return { store: scaleOut.store, scaleOut };
}

export async function startController(options: ControllerOptions): Promise<RunningController> {
  const { log } = options;
  const { own, tls } = await serverTls(options);
  const { store, scaleOut } = await openStore(options);
  let http: HttpServer | HttpsServer | undefined;
  try {
    const tokens = new JoseTokenService(store.secret, options.tokenTtlSeconds);
    const audit = new AuditService(store.audit, log);
    const auth = new AuthService(store.users, tokens, audit);
    const agents = new AgentService(store.agents);
    const admin = await auth.ensureAdmin(options.adminPassword);
    // Scale-out: the other controllers' agents are connected; each controller answers for its own.
    if (!scaleOut) await agents.markAllOffline();

    const limits = { ...CONNECTION_LIMITS, ...options.connectionLimits };
    const metrics = options.metrics === false ? undefined : new ControllerMetrics();
    http = createHttpServer(limits, tls);
    const gate = new ConnectionGate(limits, log, (reason) => metrics?.connectionRefused(reason));
    gate.attach(http, tls !== undefined);
    const { io, agentSockets, clientSockets } = openSockets(http, options, {
      auth,
      agents,
      limits,
      gate,
      scaleOut,
      jobs: () => jobs,
    });
    const stdin = await startStdin(io, options, scaleOut, () => jobs);
    const jobs: JobService = await startJobs(options, {
      store: { ...store, stdin },
      scaleOut,
      agents,
      gateway: agentSockets,
      notifier: clientSockets,
      metrics,
      audit,
    });
    metrics?.observe({
      agents: () => agents.list(),
      connectedAgents: () => agentSockets.connected,
      sockets: () => ({
        [NAMESPACE.agents]: io.of(NAMESPACE.agents).sockets.size,
        [NAMESPACE.clients]: io.of(NAMESPACE.clients).sockets.size,
      }),
      activeCounts: () => jobs.activeCounts(),
      unstoredOutputBytes: () => agentSockets.unstoredBytes,
      dataDir: options.dataDir,
    });

    // Scale-out: every controller counts failed logins in Redis, so the cluster has one budget, not one per process.
    const logins = new LoginGuard(scaleOut?.loginCounters ?? new MemoryLoginCounters(), options.loginLimits);
    let closing: Promise<void> | undefined;
    const plans = new PlanService(options.ai ? new ChatCompletionsClient(options.ai) : null, jobs, log);
    serveApi(http, {
      auth,
      agents,
      enrollments: new EnrollmentService(store.enrollments, store.users, own?.fingerprint),
      jobs,
      plans,
      log,
      onAgentRemoved: (id) => agentSockets.disconnect(id),
      agentConnection: (id) => agentSockets.connection(id),
      audit,
      logins,
      sessions: new SessionService(auth, tokens, store.sessions, options.refreshTtlSeconds),
      unhealthy: scaleOut ? () => scaleOut.cluster.unavailable() : undefined,
      metrics,
      caPem: own?.ca,
      checks: [{ name: 'store', check: scaleOut ? () => scaleOut.store.ping() : () => probeDataDir(options.dataDir) }],
      shuttingDown: () => closing !== undefined,
    });
    const server = http;
    const { url, port } = await listen(server, options, tls !== undefined);
    const localAgent = options.localAgent
      ? await startLocalAgent(options.localAgent, { url, tls: tls !== undefined, auth, users: store.users, log })
      : undefined;
    const shutdown = async () => {
      log.info('controller shutting down');
      jobs.stop();
      await localAgent?.stop();
      const reason = 'the controller is shutting down';
      agentSockets.shutdown(reason);
      clientSockets.shutdown(reason);
      await drained(io, [NAMESPACE.agents, NAMESPACE.clients], NOTICE_FLUSH_MS);
      const ioClosed = new Promise<void>((resolve) => io.close(() => resolve()));
      server.closeIdleConnections();
      const cut = setTimeout(() => server.closeAllConnections(), IN_FLIGHT_GRACE_MS);
      await ioClosed;
      clearTimeout(cut);
      await jobs.flush();
      await scaleOut?.close();
      await store.close();
      log.info('controller stopped');
    };
    return {
      url,
      port,
      ...(own ? { ca: { path: own.caPath, fingerprint: own.fingerprint } } : {}),
      generatedAdminPassword: admin.generatedPassword,
      auth,
      jobs,
      agents,
      plans,
      audit,
      localAgent,
      clientBacklogs: () => clientSockets.backlogs(),
      unstoredOutputBytes: () => agentSockets.unstoredBytes,
      logins: () => logins.load(),
      close() {
        closing ??= shutdown();
        return closing;
      },
    };
  } catch (err) {
    http?.close();
    await scaleOut?.close();
    await store.close();
    throw err;
  }
}

/** The HTTP(S) server with the timeouts of docs/architecture.md §7.10. */
/**
 * The certificate to serve: `--tls-cert`/`--tls-key`, or the controller's own CA's (README, TLS). Checked before the
 * store is opened: a bad certificate file stops start-up having touched nothing.
 */
async function serverTls(options: ControllerOptions) {
  if (options.tls) return { tls: await loadTls(options.tls), own: undefined };
  if (!options.ownTls) return { tls: undefined, own: undefined };
  const own = await ensureOwnTls(options.dataDir, serverAltNames(options.host, options.ownTls.names), options.log);
  options.log.info('serving TLS with its own CA: join tokens carry its fingerprint; clients pass --ca with its file', {
    ca: own.caPath,
    fingerprint: own.fingerprint,
  });
  return { tls: own, own };
}

function createHttpServer(limits: ConnectionLimits, tls: Awaited<ReturnType<typeof loadTls>> | undefined) {
  const timeouts = {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // Node checks the two above this often (default 30 s, which would let a slow request live 40 s).
    connectionsCheckingInterval: Math.max(100, Math.min(1000, limits.headersTimeoutMs / 4)),
  };
  return tls
    ? createHttpsServer({ cert: tls.cert, key: tls.key, handshakeTimeout: limits.tlsHandshakeTimeoutMs, ...timeouts })
    : createServer(timeouts);
}

/** Listens on `--host`/`--port`; resolves with the URL the controller is reached at (loopback for 0.0.0.0). */
async function listen(
  server: HttpServer | HttpsServer,
  options: ControllerOptions,
  tls: boolean,
): Promise<{ url: string; port: number }> {
  const { log } = options;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new StartupError(`port ${options.port} on ${options.host} is in use: pass another --port`)
          : err,
      ),
    );
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const scheme = tls ? 'https' : 'http';
  const url = `${scheme}://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${port}`;
  log.info('controller listening', { url, dataDir: options.dataDir });
  if (!tls && !isLoopback(options.host)) {
    // `controller serve` refuses this without --insecure-http; asked for, it is still worth a line in the log.
    log.warn('serving plain HTTP on a non-loopback address (--insecure-http): passwords and tokens cross unencrypted', {
      host: options.host,
    });
  }
  return { url, port };
}

type Opened = Awaited<ReturnType<typeof openStore>>;

/** The job service, started: its agents' presence in scale-out, and the unfinished jobs of a restart. */
async function startJobs(
  options: ControllerOptions,
  deps: {
    store: Opened['store'] & { stdin: StdinStore };
    scaleOut: Opened['scaleOut'];
    agents: AgentService;
    gateway: AgentSockets;
    notifier: ClientSockets;
    metrics: ControllerMetrics | undefined;
    audit: AuditService;
  },
): Promise<JobService> {
  const { store, scaleOut, agents } = deps;
  const jobs = new JobService(
    {
      lostAfterMs: options.lostAfterMs ?? 120_000,
      resultGraceMs: options.resultGraceMs ?? 60_000,
      retainJobs: options.retainJobs,
      retainDays: options.retainDays,
    },
    {
      jobs: store.jobs,
      output: store.output,
      gateway: deps.gateway,
      notifier: deps.notifier,
      log: options.log,
      metrics: deps.metrics,
      audit: deps.audit,
      cluster: scaleOut?.cluster,
      stdin: store.stdin,
    },
  );
  await scaleOut?.cluster.start(jobs, {
    connected: (name) => jobs.agentConnected(name),
    disconnected: (_id, name, record) => {
      jobs.agentDisconnected(name);
      if (record) agents.offline(name).catch(() => {});
    },
  });
  await jobs.start(await agents.list());
  return jobs;
}

/** The HTTP API and the ops routes on `http` (Socket.IO answers its own path on the same server). */
function serveApi(http: HttpServer | HttpsServer, deps: ApiDeps & OpsDeps): void {
  const api = buildApi(deps);
  addOpsRoutes(api, deps);
  http.on('request', (req, res) => {
    if (req.url?.startsWith('/socket.io/')) return;
    void api.handle(req, res);
  });
}

/** Socket.IO on `http`: the `/agents` and `/clients` namespaces, capped per identity, closed with their tokens. */
function openSockets(
  http: HttpServer | HttpsServer,
  options: ControllerOptions,
  deps: {
    auth: AuthService;
    agents: AgentService;
    limits: ConnectionLimits;
    gate: ConnectionGate;
    scaleOut: Opened['scaleOut'];
    jobs: () => JobService;
  },
) {
  const { auth, agents, limits, gate, scaleOut, jobs: getJobs } = deps;
  const { log } = options;
  const io = new Server(http, {
    connectTimeout: limits.socketHandshakeTimeoutMs,
    maxHttpBufferSize: LIMITS.maxHttpBufferSize,
    pingInterval: options.heartbeat?.intervalMs ?? 10_000,
    pingTimeout: options.heartbeat?.timeoutMs ?? 10_000,
    ...(scaleOut ? { adapter: scaleOut.adapter } : {}),
  });
  // The sockets and the job service refer to each other: the sockets reach it through a getter.
  const agentSockets = new AgentSockets(io, auth, agents, getJobs, log, scaleOut?.cluster);
  const clientSockets = new ClientSockets(
    io,
    auth,
    agents,
    getJobs,
    log,
    scaleOut && (() => scaleOut.cluster.unavailable()),
    options.clientBacklogBytes,
  );
  gate.limitPerIdentity(io.of(NAMESPACE.agents), limits.socketsPerAgent, 'per_agent');
  gate.limitPerIdentity(io.of(NAMESPACE.clients), limits.socketsPerUser, 'per_user');
  // Revoked tokens (user removed, password changed) also close the connections they opened.
  auth.onRevoked((name) => {
    const closed = agentSockets.disconnectUser(name) + clientSockets.disconnectUser(name);
    if (closed) log.info('connections of a revoked user closed', { user: name, count: closed });
  });
  return { io, agentSockets, clientSockets };
}

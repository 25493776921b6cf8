import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { startAgent, type RunningAgent } from '../agent/index.js';
import { defaultAgentName } from '../agent/facts.js';
import { LIMITS } from '../protocol/events.js';
import { StartupError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { AgentService } from './application/agent-service.js';
import { AuthService } from './application/auth-service.js';
import { JobService } from './application/job-service.js';
import { generatePassword } from './application/passwords.js';
import { buildApi } from './infrastructure/http/api.js';
import { AgentSockets, ClientSockets } from './infrastructure/socket/sockets.js';
import { openLowdbStore } from './infrastructure/store/lowdb-store.js';
import { JoseTokenService } from './infrastructure/tokens.js';

export interface ControllerOptions {
  host: string;
  port: number;
  dataDir: string;
  tokenTtlSeconds: number;
  adminPassword?: string;
  localAgent?: boolean | { name?: string; labels?: Record<string, string> };
  log: Logger;
  /** Wait this long for a vanished agent before its runs are lost. */
  lostAfterMs?: number;
  resultGraceMs?: number;
}

export interface RunningController {
  url: string;
  port: number;
  /** Set when the first start created `admin` with a generated password. */
  generatedAdminPassword?: string;
  auth: AuthService;
  jobs: JobService;
  agents: AgentService;
  localAgent?: RunningAgent;
  close(): Promise<void>;
}

export async function startController(options: ControllerOptions): Promise<RunningController> {
  const { log } = options;
  const store = await openLowdbStore(options.dataDir);
  let http: HttpServer | undefined;
  try {
    const tokens = new JoseTokenService(store.secret, options.tokenTtlSeconds);
    const auth = new AuthService(store.users, tokens);
    const agents = new AgentService(store.agents);
    const admin = await auth.ensureAdmin(options.adminPassword);
    await agents.markAllOffline();

    http = createServer();
    const io = new Server(http, {
      maxHttpBufferSize: LIMITS.maxHttpBufferSize,
      pingInterval: 10_000,
      pingTimeout: 10_000,
    });
    // The sockets and the job service refer to each other: the sockets reach it through a getter.
    const getJobs = () => jobs;
    const agentSockets = new AgentSockets(io, auth, agents, getJobs, log);
    const clientSockets = new ClientSockets(io, auth, agents, getJobs, log);
    const jobs: JobService = new JobService(store.jobs, store.output, agentSockets, clientSockets, log, {
      lostAfterMs: options.lostAfterMs ?? 120_000,
      resultGraceMs: options.resultGraceMs ?? 60_000,
    });
    await jobs.start(await agents.list());

    const api = buildApi({ auth, agents, jobs, log, onAgentRemoved: (id) => agentSockets.disconnect(id) });
    http.on('request', (req, res) => {
      // socket.io answers its own path on the same server
      if (req.url?.startsWith('/socket.io/')) return;
      void api.handle(req, res);
    });
    const server = http;
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
    const url = `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${port}`;
    log.info('controller listening', { url, dataDir: options.dataDir });

    let localAgent: RunningAgent | undefined;
    if (options.localAgent) {
      const settings = typeof options.localAgent === 'object' ? options.localAgent : {};
      const name = settings.name ?? defaultAgentName();
      const existing = await store.users.get(name);
      if (existing && existing.role !== 'agent') {
        throw new StartupError(
          `--local-agent: user "${name}" exists with role ${existing.role}; pass another agent name`,
        );
      }
      if (!existing) await auth.addUser({ name: 'controller', role: 'admin' }, name, 'agent', generatePassword());
      localAgent = await startAgent({
        controller: url,
        name,
        labels: settings.labels ?? {},
        stateDir: null,
        tokens: { get: async () => (await auth.issueFor(name)).token },
        log,
        minDelayMs: 200,
        maxDelayMs: 2000,
      });
      await localAgent.ready;
    }

    let closed = false;
    return {
      url,
      port,
      generatedAdminPassword: admin.generatedPassword,
      auth,
      jobs,
      agents,
      localAgent,
      async close() {
        if (closed) return;
        closed = true;
        await localAgent?.stop();
        jobs.stop();
        agentSockets.disconnectAll();
        clientSockets.disconnectAll();
        await new Promise<void>((resolve) => io.close(() => resolve()));
        server.closeAllConnections();
        await store.close();
        log.info('controller stopped');
      },
    };
  } catch (err) {
    http?.close();
    await store.close();
    throw err;
  }
}

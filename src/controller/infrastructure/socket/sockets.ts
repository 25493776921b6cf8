import type { Namespace, Server, Socket } from 'socket.io';
import { jobIdOfRun } from '../../../domain/ids.js';
import type { AgentConnection } from '../../../protocol/agents.js';
import type { Job } from '../../../domain/model.js';
import {
  agentInfoCheck,
  briefOf,
  commandProgressCheck,
  commandResultCheck,
  EV,
  jobIdPayloadCheck,
  jobRequestCheck,
  NAMESPACE,
  progressBytes,
  type AgentsToServer,
  type ClientsToServer,
  type CommandProgress,
  type CommandResult,
  type ExecuteAck,
  type ExecuteCommand,
  type JobAck,
  type ServerToAgents,
  type ServerToClients,
} from '../../../protocol/events.js';
import { parse, PayloadError } from '../../../protocol/validate.js';
import type { Logger } from '../../../lib/log.js';
import type { AgentService } from '../../application/agent-service.js';
import { requireRole, type AuthService, type VerifiedIdentity } from '../../application/auth-service.js';
import { AppError, storeUnavailable, TokenError } from '../../application/errors.js';
import type { JobService } from '../../application/job-service.js';
import { envViewOf, jobFor, jobWithEnv, type EnvView } from '../../application/job-views.js';
import type { AgentGateway, ClientNotifier, Identity } from '../../application/ports.js';
import { admitVersion, versionMiddleware } from '../peer-version.js';

type AgentSocket = Socket<
  AgentsToServer,
  ServerToAgents,
  Record<string, never>,
  { identity: VerifiedIdentity; agentId?: string }
>;
type ClientSocket = Socket<ClientsToServer, ServerToClients, Record<string, never>, { identity: VerifiedIdentity }>;

const ACK_TIMEOUT_MS = 15_000;
/**
 * Output bytes of one agent waiting to be stored: pause its connection above HIGH, resume below LOW. Kept small: what
 * waits here lives long enough to be promoted to V8's old generation, and was most of the controller's RSS growth
 * on a fast stream with 8 MiB (BENCHMARKS.md, stream); throughput did not drop with 2 MiB.
 */
const PENDING_HIGH = 2 * 1024 * 1024;
const PENDING_LOW = 512 * 1024;
const room = (jobId: string) => `job:${jobId}`;
/** A job's subscribers by what they may see of its env (job-views.ts): the final document goes to each in its view. */
const viewRoom = (jobId: string, view: EnvView) => `job:${jobId}:env-${view}`;
const ENV_VIEWS: readonly EnvView[] = ['values', 'names'];
/** Bytes a live client may have waiting in the controller before its live output is dropped (it then resyncs). */
export const CLIENT_BACKLOG_MAX = 4 * 1024 * 1024;

/** The parts of an engine.io server connection's heartbeat (engine.io 6: `Socket#resetPingTimeout`, its timer). */
interface EngineHeartbeat {
  readyState: string;
  pingTimeoutTimer: NodeJS.Timeout | null;
  pingIntervalTimer: NodeJS.Timeout | null;
  resetPingTimeout(): void;
  on(event: 'heartbeat', listener: () => void): unknown;
  off(event: 'heartbeat', listener: () => void): unknown;
}

/**
 * Stops reading a socket's connection (TCP pushes back on the sender); returns what reads it again. Its pongs then
 * wait unread behind what the sender wrote, and engine.io would close the connection for them: their deadline is
 * held meanwhile, and pings still go out every interval (the agent closes a connection whose controller stops
 * pinging). On resume, a ping not answered yet gets its full timeout from then. With an engine.io whose internals
 * differ, only the reads pause (the connection then drops after a long stall, and the agent reconnects).
 */
function pauseReading(socket: AgentSocket): () => void {
  const ws = (socket.conn.transport as unknown as { socket?: { pause?(): void; resume?(): void } }).socket;
  ws?.pause?.();
  const releaseHeartbeat = holdPongDeadline(socket.conn);
  return () => {
    ws?.resume?.();
    releaseHeartbeat();
  };
}

function holdPongDeadline(conn: unknown): () => void {
  const c = conn as Partial<EngineHeartbeat>;
  const known =
    typeof c.resetPingTimeout === 'function' &&
    c.pingTimeoutTimer !== undefined &&
    c.pingIntervalTimer !== undefined &&
    typeof c.on === 'function' &&
    typeof c.off === 'function';
  if (!known) return () => {};
  const engine = c as EngineHeartbeat;
  let awaitingPong = engine.pingTimeoutTimer !== null;
  clearTimeout(engine.pingTimeoutTimer ?? undefined);
  engine.pingTimeoutTimer = null;
  // Each ping sent meanwhile waits for its pong without a deadline, and the next ping goes out an interval later
  // (engine.io schedules it when the pong is read); a pong read meanwhile answers them.
  const ownReset = Object.prototype.hasOwnProperty.call(engine, 'resetPingTimeout');
  engine.resetPingTimeout = () => {
    awaitingPong = true;
    engine.pingIntervalTimer?.refresh();
  };
  const answered = () => void (awaitingPong = false);
  engine.on('heartbeat', answered);
  return () => {
    if (!ownReset) delete (engine as Partial<EngineHeartbeat>).resetPingTimeout;
    engine.off('heartbeat', answered);
    if (awaitingPong && engine.readyState === 'open') engine.resetPingTimeout();
  };
}

interface PendingPacket {
  data?: unknown;
}
/**
 * What the controller holds for one connection and has not handed to the kernel yet: engine.io's buffer and ws's.
 * Counting stops once past `stopAt`: live output checks every member of a job's room for every chunk.
 */
function pendingBytes(socket: Socket, stopAt = Infinity): number {
  const conn = socket.conn as unknown as {
    writeBuffer?: PendingPacket[];
    transport?: { socket?: { bufferedAmount?: number } };
  };
  let bytes = conn.transport?.socket?.bufferedAmount ?? 0;
  for (const packet of conn.writeBuffer ?? []) {
    const data = packet.data;
    if (typeof data === 'string') bytes += data.length;
    else if (data instanceof Uint8Array) bytes += data.byteLength;
    if (bytes > stopAt) break;
  }
  return bytes;
}

/** Every agent's socket joins its own room: with the Redis adapter, any controller reaches it there. */
const agentRoom = (agentId: string) => `agent:${agentId}`;

/** Scale-out: which agents are connected to the other controllers, and telling them about ours. */
export interface AgentPresence {
  online(agentId: string, agentName: string): Promise<void>;
  /** False when the agent is connected to another controller by now (a failover): nothing to record then. */
  offline(agentId: string, agentName: string): Promise<boolean>;
  connectedAnywhere(agentId: string): boolean;
}

function refuse(code: TokenError['code'], message: string): Error {
  return Object.assign(new Error(message), { data: { code, message } });
}

/** Closes the connections of a user whose tokens were revoked (removed, or its password changed). */
function disconnectUser(nsp: Namespace, name: string): number {
  let count = 0;
  for (const socket of nsp.sockets.values()) {
    if ((socket.data as { identity?: Identity }).identity?.name !== name) continue;
    socket.disconnect(true);
    count++;
  }
  return count;
}

function authMiddleware(auth: AuthService, accept: (identity: Identity) => boolean, what: string) {
  return (socket: Socket, next: (err?: Error) => void) => {
    const token = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
    if (typeof token !== 'string' || token === '') return next(refuse('ERR_TOKEN_INVALID', 'missing token'));
    auth.authenticate(token).then(
      (identity) => {
        if (!accept(identity)) return next(refuse('ERR_FORBIDDEN', `this namespace accepts only ${what}`));
        socket.data.identity = { ...identity, from: socket.handshake.address };
        next();
      },
      (err: unknown) => {
        if (err instanceof TokenError) return next(refuse(err.code, err.message));
        next(refuse('ERR_TOKEN_INVALID', 'token invalid'));
      },
    );
  };
}

const isFn = (f: unknown): f is (...args: never[]) => void => typeof f === 'function';

/** The `/agents` namespace, and the gateway the job service dispatches through. */
export class AgentSockets implements AgentGateway {
  private readonly byAgentId = new Map<string, AgentSocket>();
  /** Output received from agents and not stored yet, all agents together (`ogent_output_unstored_bytes`). */
  unstoredBytes = 0;
  private readonly nsp: Namespace<AgentsToServer, ServerToAgents>;

  constructor(
    io: Server,
    auth: AuthService,
    private readonly agents: AgentService,
    private readonly jobService: () => JobService,
    private readonly log: Logger,
    private readonly presence?: AgentPresence,
  ) {
    this.nsp = io.of(NAMESPACE.agents);
    this.nsp.use(versionMiddleware('agent'));
    this.nsp.use(authMiddleware(auth, (i) => i.role === 'agent', 'agent identities'));
    this.nsp.on('connection', (socket: AgentSocket) => this.onConnection(socket));
  }

  private get jobs(): JobService {
    return this.jobService();
  }

  private onConnection(socket: AgentSocket) {
    const name = socket.data.identity.name;
    socket.on(EV.agentInfo, (raw, ack) => {
      const reply = isFn(ack) ? ack : () => {};
      let info;
      try {
        info = parse(agentInfoCheck, raw);
      } catch (err) {
        this.log.warn('malformed agent_info', { agent: name, error: (err as Error).message });
        return reply({ ok: false, error: (err as Error).message });
      }
      if (info.name !== name) return reply({ ok: false, error: `agent_info name must be "${name}"` });
      const verdict = admitVersion(info.version, 'agent');
      if (!verdict.ok) {
        this.log.warn('agent refused for its version', { agent: name, error: verdict.message });
        return reply({ ok: false, error: verdict.message, code: verdict.code });
      }
      this.agents.online(name, info).then(
        ({ agent, held }) => {
          if (held.length) {
            this.log.warn('agent reported other labels or facts: held until an admin accepts them', {
              agent: name,
              held,
              accept: `ogent agents accept ${name}`,
            });
          }
          const ok = held.length ? { ok: true, held } : { ok: true };
          if (socket.disconnected) return;
          const previous = this.byAgentId.get(agent.id);
          if (previous && previous !== socket) previous.disconnect(true);
          socket.data.agentId = agent.id;
          this.byAgentId.set(agent.id, socket);
          void socket.join(agentRoom(agent.id));
          this.jobs.agentConnected(name);
          this.log.info('agent online', { agent: name, address: socket.handshake.address });
          if (!this.presence) return reply(ok);
          // Known to every controller before it is told it may send results (they may go to the job's owner).
          this.presence.online(agent.id, name).then(
            () => reply(ok),
            (err: Error) => reply({ ok: false, error: `the shared store is unavailable: ${err.message}` }),
          );
        },
        (err: Error) => reply({ ok: false, error: err.message }),
      );
    });
    // Backpressure: while this agent's output waits to be stored, stop reading its connection (TCP pushes back).
    let pending = 0;
    let resume: (() => void) | undefined;
    socket.on(EV.commandProgress, (raw) => {
      let progress;
      try {
        progress = parse(commandProgressCheck, raw);
      } catch (err) {
        this.log.warn('malformed command_progress', { agent: name, error: (err as Error).message });
        return;
      }
      const stored = this.jobs.progress(name, progress);
      if (!stored) return;
      const size = progressBytes(progress.data);
      pending += size;
      this.unstoredBytes += size;
      if (!resume && pending > PENDING_HIGH) resume = pauseReading(socket);
      void stored.finally(() => {
        pending -= size;
        this.unstoredBytes -= size;
        if (resume && pending < PENDING_LOW) {
          resume();
          resume = undefined;
        }
      });
    });
    socket.on(EV.commandResult, (raw, ack) => {
      const reply = isFn(ack) ? ack : () => {};
      let result: CommandResult;
      try {
        result = parse(commandResultCheck, raw);
      } catch (err) {
        this.log.warn('malformed command_result', { agent: name, error: (err as Error).message });
        return reply({ ok: false, error: `invalid_payload: ${(err as Error).message}` });
      }
      this.jobs.result(name, result).then(reply, (err: Error) => {
        this.log.error('result not persisted', {
          jobId: jobIdOfRun(result.runId),
          runId: result.runId,
          error: err.message,
        });
        reply({ ok: false, error: 'not_persisted' });
      });
    });
    socket.on('disconnect', (reason) => {
      const id = socket.data.agentId;
      if (!id || this.byAgentId.get(id) !== socket) return;
      this.byAgentId.delete(id);
      this.log.info('agent offline', { agent: name, reason });
      const record = () => {
        this.jobs.agentDisconnected(name);
        this.agents
          .offline(name)
          .catch((err: Error) => this.log.error('agent state not saved', { error: err.message }));
      };
      if (!this.presence) return record();
      this.presence.offline(id, name).then(
        (gone) => gone && record(),
        (err: Error) => {
          this.log.error('agent presence not saved', { agent: name, error: err.message });
          this.jobs.agentDisconnected(name);
        },
      );
    });
  }

  isConnected(agentId: string): boolean {
    return this.byAgentId.has(agentId) || (this.presence?.connectedAnywhere(agentId) ?? false);
  }

  async execute(agentId: string, command: ExecuteCommand): Promise<ExecuteAck> {
    const socket = this.byAgentId.get(agentId);
    if (socket) return socket.timeout(ACK_TIMEOUT_MS).emitWithAck(EV.executeCommand, command);
    if (this.presence?.connectedAnywhere(agentId)) {
      // Connected to another controller: through the adapter, to the agent's room.
      const acks = (await this.nsp
        .to(agentRoom(agentId))
        .timeout(ACK_TIMEOUT_MS)
        .emitWithAck(EV.executeCommand, command)) as ExecuteAck[];
      if (acks[0]) return acks[0];
    }
    return { accepted: false, reason: 'agent disconnected before dispatch' };
  }

  async cancel(agentId: string, runId: string) {
    const socket = this.byAgentId.get(agentId);
    if (socket) await socket.timeout(ACK_TIMEOUT_MS).emitWithAck(EV.cancelCommand, { runId });
    else if (this.presence?.connectedAnywhere(agentId)) {
      await this.nsp.to(agentRoom(agentId)).timeout(ACK_TIMEOUT_MS).emitWithAck(EV.cancelCommand, { runId });
    }
  }

  disconnect(agentId: string) {
    const socket = this.byAgentId.get(agentId);
    if (socket) socket.disconnect(true);
    else if (this.presence) this.nsp.in(agentRoom(agentId)).disconnectSockets(true);
  }

  /** A user's tokens were revoked: its connections close (it must log in again). */
  disconnectUser(name: string): number {
    return disconnectUser(this.nsp, name);
  }

  /** Agents connected and registered. */
  get connected(): number {
    return this.byAgentId.size;
  }

  /** Where and since when an agent is connected. */
  connection(agentId: string): AgentConnection | undefined {
    const socket = this.byAgentId.get(agentId);
    if (!socket) return undefined;
    const { address, issued, secure } = socket.handshake;
    return { address, since: new Date(issued).toISOString(), secure };
  }

  /** Graceful shutdown: say why before the transport closes; agents then reconnect (here or elsewhere) as usual. */
  shutdown(reason: string) {
    this.nsp.emit(EV.serverShutdown, { reason });
  }
}

/** The `/clients` namespace: create and follow jobs live. */
export class ClientSockets implements ClientNotifier {
  private readonly nsp: Namespace<ClientsToServer, ServerToClients>;
  /**
   * Backpressure to live clients: per socket id, the jobs whose live output it no longer gets because it fell more
   * than `backlogMax` bytes behind. It was told (`job_resync`), reads the rest from the stored output, and gets live
   * output again when it subscribes anew.
   */
  private readonly lagging = new Map<string, Set<string>>();

  constructor(
    io: Server,
    private readonly auth: AuthService,
    private readonly agents: AgentService,
    private readonly jobs: () => JobService,
    private readonly log: Logger,
    /** Scale-out: why the store is unusable now (a failure meanwhile is answered as such). */
    private readonly unavailable?: () => string | undefined,
    private readonly backlogMax = CLIENT_BACKLOG_MAX,
  ) {
    this.nsp = io.of(NAMESPACE.clients);
    this.nsp.use(versionMiddleware('client'));
    this.nsp.use(authMiddleware(auth, (i) => i.role !== 'agent', 'users'));
    this.nsp.on('connection', (socket: ClientSocket) => this.onConnection(socket));
  }

  private onConnection(socket: ClientSocket) {
    const identity = socket.data.identity;
    // Every request re-checks the token's user: one removed (or whose password changed) since the handshake is
    // refused and disconnected, even if the revocation happened on another controller.
    const current = async () => {
      try {
        await this.auth.recheck(identity);
      } catch (err) {
        // Revoked: the connection goes. A store that cannot answer now (Redis down) is answered as such below.
        if (err instanceof TokenError) socket.disconnect(true);
        throw err;
      }
    };
    const answer = (ack: unknown, work: () => Promise<Job>) => {
      const reply = (isFn(ack) ? ack : () => {}) as (r: JobAck) => void;
      current()
        .then(work)
        .then(
          (job) => reply({ ok: true, job: jobFor(job, identity) }),
          (err: unknown) => {
            if (err instanceof TokenError) return reply({ ok: false, error: 'invalid_token', message: err.message });
            if (err instanceof AppError) return reply({ ok: false, error: err.error, message: err.message });
            if (err instanceof PayloadError)
              return reply({ ok: false, error: 'invalid_request', message: err.message });
            const down = this.unavailable?.();
            if (down) {
              const e = storeUnavailable(down);
              return reply({ ok: false, error: e.error, message: e.message });
            }
            this.log.error('client request failed', { error: (err as Error).stack });
            reply({ ok: false, error: 'internal', message: 'internal error; see the controller log' });
          },
        );
    };
    socket.on(EV.jobCreate, (raw, ack) =>
      answer(ack, async () => {
        requireRole(identity, 'operator', 'run jobs');
        const request = parse(jobRequestCheck, raw);
        const follow = (job: Job) => socket.join([room(job.id), viewRoom(job.id, envViewOf(job, identity))]);
        return this.jobs().create(request, identity, await this.agents.list(), follow);
      }),
    );
    socket.on(EV.jobSubscribe, (raw, ack) =>
      answer(ack, async () => {
        requireRole(identity, 'viewer', 'follow jobs');
        const { jobId } = parse(jobIdPayloadCheck, raw);
        const job = await this.jobs().get(jobId);
        await socket.join([room(jobId), viewRoom(jobId, envViewOf(job, identity))]);
        this.caughtUp(socket.id, jobId);
        return job;
      }),
    );
    socket.on(EV.jobUnsubscribe, (raw) => {
      let jobId: string;
      try {
        jobId = parse(jobIdPayloadCheck, raw).jobId;
      } catch {
        return; // a malformed unsubscribe changes nothing
      }
      current().then(
        async () => {
          for (const name of [room(jobId), ...ENV_VIEWS.map((view) => viewRoom(jobId, view))]) await socket.leave(name);
          this.caughtUp(socket.id, jobId);
        },
        () => {},
      );
    });
    socket.on('disconnect', () => this.lagging.delete(socket.id));
  }

  /** A user's tokens were revoked: its connections close (it must log in again). */
  disconnectUser(name: string): number {
    return disconnectUser(this.nsp, name);
  }

  private caughtUp(socketId: string, jobId: string) {
    const jobs = this.lagging.get(socketId);
    if (jobs?.delete(jobId) && jobs.size === 0) this.lagging.delete(socketId);
  }

  /**
   * Live output goes to the job's room, except to sockets that are more than `backlogMax` bytes behind: those are
   * told once to resync (the notice waits behind what they have not read) and get no more live output for this job.
   */
  progress(jobId: string, agent: string, progress: CommandProgress) {
    // Only this process's sockets are checked: with an adapter shared by several controllers, the clients of another
    // one get this broadcast unchecked (bounding those needs the same check where that controller delivers it).
    const members = this.nsp.adapter.rooms.get(room(jobId)) ?? [];
    let skip: string[] | undefined;
    for (const id of members) {
      if (this.lagging.get(id)?.has(jobId)) {
        (skip ??= []).push(id);
        continue;
      }
      const socket = this.nsp.sockets.get(id);
      if (!socket || pendingBytes(socket, this.backlogMax) <= this.backlogMax) continue;
      let jobs = this.lagging.get(id);
      if (!jobs) this.lagging.set(id, (jobs = new Set()));
      jobs.add(jobId);
      (skip ??= []).push(id);
      socket.emit(EV.jobResync, { jobId });
      this.log.info('live client too far behind: live output dropped, client told to resync', { jobId, socket: id });
    }
    const to = skip ? this.nsp.to(room(jobId)).except(skip) : this.nsp.to(room(jobId));
    to.emit(EV.commandProgress, { ...progress, jobId, agent });
  }

  /** Bytes waiting in the controller for each live client (monitoring, tests). */
  backlogs(): number[] {
    return [...this.nsp.sockets.values()].map((s) => pendingBytes(s));
  }

  runUpdate(job: Job, runId: string) {
    const run = job.runs[Number(runId.slice(runId.lastIndexOf('_') + 1))];
    if (run) this.nsp.to(room(job.id)).emit(EV.jobUpdate, { jobId: job.id, run: briefOf(run) });
  }

  result(jobId: string, agent: string, result: CommandResult) {
    this.nsp.to(room(jobId)).emit(EV.commandResult, { ...result, jobId, agent });
  }

  jobFinished(job: Job) {
    for (const view of ENV_VIEWS) this.nsp.to(viewRoom(job.id, view)).emit(EV.jobFinished, jobWithEnv(job, view));
  }

  shutdown(reason: string) {
    this.nsp.emit(EV.serverShutdown, { reason });
  }
}

import type { Namespace, Server, Socket } from 'socket.io';
import { jobIdOfRun } from '../../../domain/ids.js';
import type { AgentConnection } from '../../../protocol/agents.js';
import {
  agentInfoCheck,
  commandProgressCheck,
  commandResultCheck,
  EV,
  NAMESPACE,
  progressBytes,
  type AgentsToServer,
  type CommandResult,
  type ExecuteAck,
  type ExecuteCommand,
  type ServerToAgents,
} from '../../../protocol/events.js';
import { parse } from '../../../protocol/validate.js';
import type { Logger } from '../../../lib/log.js';
import type { AgentService } from '../../application/agent-service.js';
import { type AuthService, type VerifiedIdentity } from '../../application/auth-service.js';
import type { JobService } from '../../application/job-service.js';
import type { AgentGateway } from '../../application/ports.js';
import { admitVersion, versionMiddleware } from '../peer-version.js';
import { authMiddleware, disconnectUser, isFn } from './socket-auth.js';
import { pauseReading } from './engine.js';

type AgentSocket = Socket<
  AgentsToServer,
  ServerToAgents,
  Record<string, never>,
  { identity: VerifiedIdentity; agentId?: string }
>;
const ACK_TIMEOUT_MS = 15_000;
/**
 * Output bytes of one agent waiting to be stored: pause its connection above HIGH, resume below LOW. Kept small: what
 * waits here lives long enough to be promoted to V8's old generation, and was most of the controller's RSS growth
 * on a fast stream with 8 MiB (BENCHMARKS.md, stream); throughput did not drop with 2 MiB.
 */
const PENDING_HIGH = 2 * 1024 * 1024;
const PENDING_LOW = 512 * 1024;
/** Every agent's socket joins its own room: with the Redis adapter, any controller reaches it there. */
const agentRoom = (agentId: string) => `agent:${agentId}`;

/** Scale-out: which agents are connected to the other controllers, and telling them about ours. */
export interface AgentPresence {
  online(agentId: string, agentName: string): Promise<void>;
  /** False when the agent is connected to another controller by now (a failover): nothing to record then. */
  offline(agentId: string, agentName: string): Promise<boolean>;
  connectedAnywhere(agentId: string): boolean;
}

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

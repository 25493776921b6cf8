import type { Namespace, Server, Socket } from 'socket.io';
import type { Job } from '../../../domain/model.js';
import {
  briefOf,
  EV,
  jobIdPayloadCheck,
  jobRequestCheck,
  NAMESPACE,
  type ClientsToServer,
  type CommandProgress,
  type CommandResult,
  type JobAck,
  type ServerToClients,
} from '../../../protocol/events.js';
import { parse, PayloadError } from '../../../protocol/validate.js';
import type { Logger } from '../../../lib/log.js';
import type { AgentService } from '../../application/agent-service.js';
import { authorize } from '../../application/access.js';
import { type AuthService, type VerifiedIdentity } from '../../application/auth-service.js';
import { AppError, storeUnavailable, TokenError } from '../../application/errors.js';
import type { JobService } from '../../application/job-service.js';
import { envViewOf, jobFor, jobWithEnv, type EnvView } from '../../application/job-views.js';
import type { ClientNotifier } from '../../application/ports.js';
import { versionMiddleware } from '../peer-version.js';
import { authMiddleware, disconnectUser, isFn } from './socket-auth.js';
import { pendingBytes } from './engine.js';

type ClientSocket = Socket<ClientsToServer, ServerToClients, Record<string, never>, { identity: VerifiedIdentity }>;

const room = (jobId: string) => `job:${jobId}`;
/** A job's subscribers by what they may see of its env (job-views.ts): the final document goes to each in its view. */
const viewRoom = (jobId: string, view: EnvView) => `job:${jobId}:env-${view}`;
const ENV_VIEWS: readonly EnvView[] = ['values', 'names'];
/** Bytes a live client may have waiting in the controller before its live output is dropped (it then resyncs). */
export const CLIENT_BACKLOG_MAX = 4 * 1024 * 1024;

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
        authorize(identity, 'runJobs');
        const request = parse(jobRequestCheck, raw);
        const follow = (job: Job) => socket.join([room(job.id), viewRoom(job.id, envViewOf(job, identity))]);
        return this.jobs().create(request, identity, await this.agents.list(), follow);
      }),
    );
    socket.on(EV.jobSubscribe, (raw, ack) =>
      answer(ack, async () => {
        authorize(identity, 'followJobs');
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

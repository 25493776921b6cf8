import { io, type Socket } from 'socket.io-client';
import type { Job, RunStatus } from '../domain/model.js';
import {
  briefOf,
  EV,
  NAMESPACE,
  type ClientsToServer,
  type JobAck,
  type JobRequest,
  type RunBrief,
  type ServerToClients,
} from '../protocol/events.js';
import { authError, unreachableError, UserError } from '../lib/errors.js';
import { apiError } from './http.js';
import { certificateError } from './tls.js';
import type { Session } from './credentials.js';

/** What a renderer is told as a job unfolds; every output byte exactly once, in order per run and stream. */
export interface JobEvents {
  snapshot?(job: Job): void;
  output(agent: string, runId: string, stream: 'stdout' | 'stderr', data: string): void;
  /** A run changed status (each status once). */
  runStatus(run: RunBrief): void;
}

export interface FollowOptions {
  /** How long to keep trying when the controller goes away before giving up with exit 4. */
  patienceMs?: number;
  signal?: AbortSignal;
}

type ClientSocket = Socket<ServerToClients, ClientsToServer>;

/** Follows one job over `/clients`: creates it (or attaches), prints output live, resolves with the finished job. */
export class JobStream {
  private readonly printed = new Map<string, { seq: number; stdout: number; stderr: number; status: RunStatus }>();

  constructor(
    private readonly session: Session,
    private readonly events: JobEvents,
  ) {}

  /** Creates the job over the socket, so no event between creation and subscription is missed. */
  create(request: JobRequest, options: FollowOptions = {}): Promise<Job> {
    return this.run({ create: request }, options);
  }

  follow(jobId: string, options: FollowOptions = {}): Promise<Job> {
    return this.run({ jobId }, options);
  }

  private async connect(): Promise<ClientSocket> {
    await this.session.token();
    return io(`${this.session.controller}${NAMESPACE.clients}`, {
      transports: ['websocket'],
      ...(this.session.ca ? { ca: this.session.ca } : {}),
      // Asked again on every reconnect, so a session that logs in with OGENT_USERNAME/OGENT_PASSWORD can renew.
      auth: (cb) => {
        this.session.token().then(
          (token) => cb({ token }),
          () => cb({ token: '' }),
        );
      },
      reconnectionDelay: 250,
      reconnectionDelayMax: 3000,
    });
  }

  private async run(target: { create?: JobRequest; jobId?: string }, options: FollowOptions): Promise<Job> {
    const socket = await this.connect();
    const patience = options.patienceMs ?? 60_000;
    let jobId = target.jobId;
    return new Promise<Job>((resolve, reject) => {
      let settled = false;
      let awayTimer: NodeJS.Timeout | undefined;
      const done = (err: Error | null, job?: Job) => {
        if (settled) return;
        settled = true;
        clearTimeout(awayTimer);
        socket.disconnect();
        if (err) reject(err);
        else resolve(job as Job);
      };
      const startAwayTimer = () => {
        awayTimer ??= setTimeout(() => {
          const resume = jobId ? `; the job goes on: resume with \`ogent jobs wait ${jobId}\`` : '';
          done(
            unreachableError(
              `cannot reach the controller at ${this.session.controller}${resume}`,
              'check that `ogent controller serve` runs there, or pass --controller / set OGENT_CONTROLLER',
            ),
          );
        }, patience);
      };
      const detached = () => done(new UserError('detached', { code: 'ERR_DETACHED', exit: 1 }));
      // The user may detach while the socket is still connecting.
      if (options.signal?.aborted) detached();
      options.signal?.addEventListener('abort', detached, { once: true });

      const onAck = (ack: JobAck) => {
        if (!ack.ok) {
          const status =
            { no_agents_matched: 422, forbidden: 403, not_found: 404, invalid_request: 400 }[ack.error] ?? 500;
          return done(apiError(status, ack, target.create ? 'create job' : 'follow job'));
        }
        jobId = ack.job.id;
        this.apply(ack.job);
        if (ack.job.status !== 'running') done(null, ack.job);
      };

      let createSent = false;
      socket.on('connect', () => {
        clearTimeout(awayTimer);
        awayTimer = undefined;
        const ack = (a: JobAck) => onAck(a);
        if (jobId) socket.emit(EV.jobSubscribe, { jobId }, ack);
        else if (!createSent) {
          createSent = true;
          socket.emit(EV.jobCreate, target.create, ack);
        } else {
          // Sending it again could run the command twice: say so instead.
          done(
            unreachableError(
              'the connection to the controller broke while the job was being created; it may or may not exist',
              'check `ogent jobs list` before running it again',
            ),
          );
        }
      });
      socket.on('connect_error', (err: Error & { data?: { code?: string; message?: string } }) => {
        const code = err.data?.code;
        if (code === 'ERR_TOKEN_EXPIRED') {
          return done(
            authError('token expired', 'run `ogent login` again, or set OGENT_USERNAME and OGENT_PASSWORD', code),
          );
        }
        if (code)
          return done(authError(`refused by the controller: ${err.data?.message ?? code}`, 'run `ogent login`', code));
        // A certificate this client does not trust will not become trusted by waiting.
        const untrusted = certificateError(this.session.controller, err);
        if (untrusted) return done(untrusted);
        startAwayTimer();
      });
      socket.on('disconnect', () => {
        if (!settled) startAwayTimer();
      });
      socket.on(EV.commandProgress, (p) => {
        if (p.jobId !== jobId) return;
        const seen = this.seen(p.runId);
        if (p.seq <= seen.seq) return;
        seen.seq = p.seq;
        seen[p.stream] += p.data.length;
        this.events.output(p.agent, p.runId, p.stream, p.data);
      });
      socket.on(EV.jobUpdate, (u) => {
        if (u.jobId !== jobId) return;
        this.status(u.run);
      });
      socket.on(EV.jobFinished, (job) => {
        if (job.id !== jobId) return;
        this.apply(job);
        done(null, job);
      });
    });
  }

  private seen(runId: string) {
    let s = this.printed.get(runId);
    if (!s) {
      s = { seq: 0, stdout: 0, stderr: 0, status: 'queued' };
      this.printed.set(runId, s);
    }
    return s;
  }

  private status(run: RunBrief) {
    const seen = this.seen(run.id);
    if (seen.status === run.status) return;
    seen.status = run.status;
    this.events.runStatus(run);
  }

  /** A job document (on subscribe, reconnect or finish): emit what was not yet seen. */
  private apply(job: Job) {
    this.events.snapshot?.(job);
    for (const run of job.runs) {
      const seen = this.seen(run.id);
      for (const stream of ['stdout', 'stderr'] as const) {
        const text = run[stream];
        if (text.length > seen[stream]) {
          this.events.output(run.agent.name, run.id, stream, text.slice(seen[stream]));
          seen[stream] = text.length;
        }
      }
      seen.seq = Math.max(seen.seq, run.seq);
      this.status(briefOf(run));
    }
  }
}

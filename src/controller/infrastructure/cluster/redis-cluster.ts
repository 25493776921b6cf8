import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Job } from '../../../domain/model.js';
import type { CommandProgress, CommandResult, ResultAck } from '../../../protocol/events.js';
import type { Logger } from '../../../lib/log.js';
import { AppError } from '../../application/errors.js';
import type { ErrorCode } from '../../../protocol/error-codes.js';
import { closeClient } from '../store/redis-store.js';
import type { Identity, JobCluster, RemoteJobs } from '../../application/ports.js';

/**
 * A job's owner renews its lease every second; another controller takes a job over this long after its owner died.
 * Long enough that a controller whose event loop is busy for a few seconds (1,000 runs on a loaded machine) keeps it.
 */
export const LEASE_MS = 10_000;
/** A controller's heartbeat key lives this long: past it, its agents count as disconnected. */
const HEARTBEAT_MS = 15_000;
const REQUEST_TIMEOUT_MS = 10_000;

/** What a controller does when another one forwards it an event about a job it owns. */
export interface JobHandler {
  progressForwarded(agentName: string, p: CommandProgress): Promise<void> | undefined;
  resultForwarded(agentName: string, r: CommandResult): Promise<ResultAck>;
  cancelForwarded(jobId: string, actor: Identity): Promise<Job>;
}

/** What the agent sockets of this controller hear about agents connected to other controllers. */
export interface PresenceListener {
  connected(agentName: string): void;
  /** `record`: this controller is the one to mark it offline in the store (its own controller is gone). */
  disconnected(agentId: string, agentName: string, record: boolean): void;
}

type Request = { kind: 'req'; id: string; from: string; method: 'progress' | 'result' | 'cancel'; args: unknown[] };
type Response = {
  kind: 'res';
  id: string;
  ok: boolean;
  value?: unknown;
  error?: { status?: number; code?: string; message: string };
};
type Presence = { agentId: string; agentName: string; ctl: string; online: boolean };

/**
 * Renews a lease we hold (KEYS[1] holds ARGV[1]) for ARGV[2] ms; one that expired and nobody took is ours again.
 * 0 when another controller holds it.
 */
const RENEW = `
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if not owner then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0`;
/** Deletes KEYS[1] only when it holds ARGV[1] (release a lease we hold). */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;
/** Removes field ARGV[1] of hash KEYS[1] only when it is ARGV[2] (an agent leaves only the controller it is on). */
const HDEL_IF = `if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) else return 0 end`;

/**
 * The coordination of controllers sharing one Redis (docs/architecture.md §5): job leases, a request channel per controller for
 * forwarded agent events, a heartbeat per controller, and which agent is connected to which controller.
 */
/** Deletes a lead key only when this controller holds it. */
const LET_GO = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0";

export class RedisCluster implements JobCluster {
  readonly id = `c${randomBytes(6).toString('hex')}`;
  private readonly sub: Redis;
  private readonly pending = new Map<
    string,
    { resolve(v: unknown): void; reject(e: Error): void; timer: NodeJS.Timeout }
  >();
  /** Agents connected to controllers, by agent id: the controller's id and the agent's name. */
  private readonly where = new Map<string, { ctl: string; name: string }>();
  private handler: JobHandler | undefined;
  private presence: PresenceListener | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ticks = 0;
  private down: string | undefined;
  private seq = 0;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly log: Logger,
  ) {
    this.sub = redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
    this.sub.on('error', () => {});
    redis.on('close', () => this.markDown('the connection to Redis is closed'));
    redis.on('end', () => this.markDown('the connection to Redis ended'));
    redis.on('ready', () => {
      if (this.down) this.log.info('redis is back');
      this.down = undefined;
    });
  }

  private markDown(reason: string) {
    if (!this.down) this.log.error('redis unreachable', { reason });
    this.down = reason;
  }

  private key(name: string) {
    return `${this.prefix}${name}`;
  }
  private get channel() {
    return this.key(`ctl:${this.id}`);
  }
  private get presenceChannel() {
    return this.key('presence');
  }

  async start(handler: JobHandler, presence: PresenceListener): Promise<void> {
    this.handler = handler;
    this.presence = presence;
    this.sub.on('message', (channel: string, text: string) => this.onMessage(channel, text));
    await this.sub.subscribe(this.channel, this.presenceChannel);
    const conn = await this.redis.hgetall(this.key('conn'));
    for (const [agentId, value] of Object.entries(conn)) {
      const [ctl, name] = splitConn(value);
      this.where.set(agentId, { ctl, name });
    }
    await this.beat();
    this.timer = setInterval(() => {
      this.beat().catch(() => {});
      if (++this.ticks % 2 === 0) this.reapDead().catch(() => {});
    }, 1000);
    this.timer.unref();
  }

  private async beat() {
    await this.redis.set(this.key(`ctl:${this.id}:alive`), '1', 'PX', HEARTBEAT_MS);
  }

  /** Agents of controllers whose heartbeat expired (killed): disconnected, everywhere. */
  private async reapDead() {
    const ctls = new Set([...this.where.values()].map((w) => w.ctl).filter((c) => c !== this.id));
    for (const ctl of ctls) {
      if ((await this.redis.exists(this.key(`ctl:${ctl}:alive`))) === 1) continue;
      this.log.warn('controller gone; its agents are disconnected', { controller: ctl });
      for (const [agentId, w] of [...this.where]) {
        if (w.ctl !== ctl) continue;
        const removed = await this.redis.eval(HDEL_IF, 1, this.key('conn'), agentId, joinConn(ctl, w.name));
        this.where.delete(agentId);
        if (removed === 1) await this.publishPresence({ agentId, agentName: w.name, ctl, online: false });
        this.presence?.disconnected(agentId, w.name, removed === 1);
      }
    }
  }

  /** An agent registered on this controller. */
  async online(agentId: string, agentName: string): Promise<void> {
    this.where.set(agentId, { ctl: this.id, name: agentName });
    await this.redis.hset(this.key('conn'), agentId, joinConn(this.id, agentName));
    await this.publishPresence({ agentId, agentName, ctl: this.id, online: true });
  }

  /** An agent left this controller; false when it is already connected to another one (then nothing changes). */
  async offline(agentId: string, agentName: string): Promise<boolean> {
    const here = this.where.get(agentId);
    if (here && here.ctl !== this.id) return false;
    this.where.delete(agentId);
    const removed = await this.redis.eval(HDEL_IF, 1, this.key('conn'), agentId, joinConn(this.id, agentName));
    if (removed !== 1) {
      // Connected elsewhere meanwhile (a failover): that controller's word counts.
      const value = await this.redis.hget(this.key('conn'), agentId);
      if (value) {
        const [ctl, name] = splitConn(value);
        this.where.set(agentId, { ctl, name });
        return false;
      }
    }
    await this.publishPresence({ agentId, agentName, ctl: this.id, online: false });
    return true;
  }

  /** Whether an agent is connected to some controller of the cluster. */
  connectedAnywhere(agentId: string): boolean {
    return this.where.has(agentId);
  }

  private async publishPresence(p: Presence) {
    await this.redis.publish(this.presenceChannel, JSON.stringify(p));
  }

  private onMessage(channel: string, text: string) {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (channel === this.presenceChannel) return this.onPresence(msg as Presence);
    const m = msg as Request | Response;
    if (m.kind === 'res') {
      const waiting = this.pending.get(m.id);
      if (!waiting) return;
      this.pending.delete(m.id);
      clearTimeout(waiting.timer);
      if (m.ok) waiting.resolve(m.value);
      else if (m.error?.status)
        waiting.reject(new AppError((m.error.code ?? 'internal') as ErrorCode, m.error.message, m.error.status));
      else waiting.reject(new Error(m.error?.message ?? 'remote error'));
      return;
    }
    if (m.kind === 'req') void this.serve(m);
  }

  private onPresence(p: Presence) {
    if (p.ctl === this.id) return;
    if (p.online) {
      this.where.set(p.agentId, { ctl: p.ctl, name: p.agentName });
      this.presence?.connected(p.agentName);
    } else if (this.where.get(p.agentId)?.ctl === p.ctl) {
      this.where.delete(p.agentId);
      this.presence?.disconnected(p.agentId, p.agentName, false);
    }
  }

  private async serve(req: Request) {
    const handler = this.handler;
    let res: Response;
    try {
      if (!handler) throw new Error('controller starting');
      let value: unknown;
      if (req.method === 'progress') {
        const [agent, p] = req.args as [string, Omit<CommandProgress, 'data'> & { data: string | { base64: string } }];
        const data = typeof p.data === 'string' ? p.data : Buffer.from(p.data.base64, 'base64');
        await handler.progressForwarded(agent, { ...p, data });
      } else if (req.method === 'result') {
        const [agent, r] = req.args as [string, CommandResult];
        value = await handler.resultForwarded(agent, r);
      } else {
        const [jobId, actor] = req.args as [string, Identity];
        value = await handler.cancelForwarded(jobId, actor);
      }
      res = { kind: 'res', id: req.id, ok: true, value };
    } catch (err) {
      const e = err as Error;
      res = {
        kind: 'res',
        id: req.id,
        ok: false,
        error:
          err instanceof AppError
            ? { status: err.status, code: err.error, message: e.message }
            : { message: e.message },
      };
    }
    await this.redis.publish(this.key(`ctl:${req.from}`), JSON.stringify(res)).catch(() => {});
  }

  private request(ctl: string, method: Request['method'], args: unknown[]): Promise<unknown> {
    const id = `${this.id}.${++this.seq}`;
    const req: Request = { kind: 'req', id, from: this.id, method, args };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`controller ${ctl} did not answer within ${REQUEST_TIMEOUT_MS} ms`));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
      this.redis.publish(this.key(`ctl:${ctl}`), JSON.stringify(req)).then(
        (listeners) => {
          // Nobody subscribed: that controller is gone; do not wait for the timeout.
          if (listeners === 0 && this.pending.delete(id)) {
            clearTimeout(timer);
            reject(new Error(`controller ${ctl} is gone`));
          }
        },
        (err: Error) => {
          if (this.pending.delete(id)) {
            clearTimeout(timer);
            reject(err);
          }
        },
      );
    });
  }

  private remote(ctl: string): RemoteJobs {
    return {
      progress: async (agent, p) => {
        // Requests are JSON: output bytes travel in base64.
        const data = typeof p.data === 'string' ? p.data : { base64: p.data.toString('base64') };
        await this.request(ctl, 'progress', [agent, { ...p, data }]);
      },
      result: async (agent, r) => (await this.request(ctl, 'result', [agent, r])) as ResultAck,
      cancel: async (jobId, actor) => (await this.request(ctl, 'cancel', [jobId, actor])) as Job,
    };
  }

  // JobCluster

  async claim(jobId: string): Promise<boolean> {
    return (await this.redis.set(this.key(`owner:${jobId}`), this.id, 'PX', LEASE_MS, 'NX')) === 'OK';
  }

  async renew(jobIds: string[]): Promise<string[]> {
    if (jobIds.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const id of jobIds) pipe.eval(RENEW, 1, this.key(`owner:${id}`), this.id, String(LEASE_MS));
    const results = (await pipe.exec()) ?? [];
    return jobIds.filter((_, i) => {
      const [err, value] = results[i] ?? [null, 0];
      return !err && value === 0;
    });
  }

  async release(jobId: string): Promise<void> {
    await this.redis.eval(RELEASE, 1, this.key(`owner:${jobId}`), this.id);
  }

  async ownerOf(jobId: string): Promise<'self' | RemoteJobs | undefined> {
    const owner = await this.redis.get(this.key(`owner:${jobId}`));
    if (!owner) return undefined;
    return owner === this.id ? 'self' : this.remote(owner);
  }

  async orphans(): Promise<string[]> {
    const running = await this.redis.smembers(this.key('jobs:running'));
    if (running.length === 0) return [];
    const owners = await this.redis.mget(running.map((id) => this.key(`owner:${id}`)));
    return running.filter((_, i) => !owners[i]);
  }

  async lead(task: string, ttlMs: number): Promise<boolean> {
    const key = this.key(`lead:${task}`);
    if ((await this.redis.set(key, this.id, 'PX', ttlMs, 'NX')) === 'OK') return true;
    // Held by this controller already: renewed (a long retention round renews it each batch).
    if ((await this.redis.get(key)) !== this.id) return false;
    return (await this.redis.pexpire(key, ttlMs)) === 1;
  }

  async letGo(task: string): Promise<void> {
    await this.redis.eval(LET_GO, 1, this.key(`lead:${task}`), this.id);
  }

  unavailable(): string | undefined {
    if (this.down || this.redis.status !== 'ready')
      return this.down ?? `the connection to Redis is ${this.redis.status}`;
    return undefined;
  }

  /** Leaves the cluster: no heartbeat, no requests; its agents are marked gone by the caller. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new Error('controller shutting down'));
      this.pending.delete(id);
    }
    await this.redis.del(this.key(`ctl:${this.id}:alive`)).catch(() => {});
    await closeClient(this.sub);
  }
}

const joinConn = (ctl: string, name: string) => `${ctl} ${name}`;
function splitConn(value: string): [string, string] {
  const at = value.indexOf(' ');
  return [value.slice(0, at), value.slice(at + 1)];
}

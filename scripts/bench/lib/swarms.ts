import type { ChildProcess } from 'node:child_process';
import type { SwarmConfig, SwarmMessage } from '../swarm.js';
import { compiled, profileArgs, ROOT, start, stop } from './proc.js';

const SWARM = `${ROOT}scripts/bench/swarm.ts`;
export const SIO_FLOOR = `${ROOT}scripts/bench/sio-floor.ts`;

/** One swarm process (scripts/bench/swarm.ts), seen from the runner. */
class Swarm {
  attached = 0;
  private readonly waiters = new Set<() => void>();
  private log = '';
  private failure: Error | null = null;

  constructor(
    readonly child: ChildProcess,
    readonly count: number,
  ) {
    child.stderr?.on('data', (d: Buffer) => (this.log = (this.log + d.toString()).slice(-8000)));
    child.on('message', (m: SwarmMessage) => {
      if (m.type === 'attached') this.attached = m.n;
      if (m.type === 'error') this.failure = new Error(`swarm failed: ${m.message}`);
      this.waiters.forEach((w) => w());
    });
    child.once('exit', (code) => {
      this.failure ??= new Error(`swarm exited (${code}):\n${this.log}`);
      this.waiters.forEach((w) => w());
    });
  }

  /** Resolves at the first message for which `test` holds; rejects when the swarm fails. */
  until(test: () => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.failure) {
          this.waiters.delete(check);
          reject(this.failure);
        } else if (test()) {
          this.waiters.delete(check);
          resolve();
        }
      };
      this.waiters.add(check);
      check();
    });
  }

  request<T extends SwarmMessage['type']>(type: T, ask: string = type): Promise<Extract<SwarmMessage, { type: T }>> {
    return new Promise((resolve) => {
      const onMessage = (m: SwarmMessage) => {
        if (m.type !== type) return;
        this.child.off('message', onMessage);
        resolve(m as Extract<SwarmMessage, { type: T }>);
      };
      this.child.on('message', onMessage);
      this.child.send({ type: ask });
    });
  }
}

/** Agents spread over several swarm processes (the machine's cores are shared with the controller). */
export class Swarms {
  private constructor(private readonly swarms: Swarm[]) {}

  /**
   * Starts `processes` swarm processes for `count` agents PREFIX-1..count and waits until each has loaded.
   * `script` takes the place of swarm.ts for the socket.io-alone floor (sio-floor.ts `clients`).
   */
  static async load<C extends { prefix: string }>(
    config: C,
    count: number,
    processes: number,
    script: string[] = [SWARM],
    /** The first agent's number (PREFIX-first … PREFIX-(first+count-1)). */
    first = 1,
  ): Promise<Swarms> {
    const swarms: Swarm[] = [];
    const per = Math.ceil(count / processes);
    const [file, ...args] = script as [string, ...string[]];
    const bundle = await compiled(file);
    for (let from = first; from < first + count; from += per) {
      const n = Math.min(per, first + count - from);
      const child = start(
        process.execPath,
        [...profileArgs('swarm'), bundle, ...args, JSON.stringify({ ...config, from, count: n })],
        { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] },
      );
      swarms.push(new Swarm(child, n));
    }
    await Promise.all(
      swarms.map(
        (s) =>
          new Promise<void>((resolve, reject) => {
            s.child.once('exit', (code) => reject(new Error(`swarm exited (${code}) while loading`)));
            s.child.once('message', () => resolve());
          }),
      ),
    );
    return new Swarms(swarms);
  }

  /** Real agents (swarm.ts). */
  static agents(
    config: Omit<SwarmConfig, 'from' | 'count'>,
    count: number,
    processes: number,
    first = 1,
  ): Promise<Swarms> {
    return Swarms.load(config, count, processes, [SWARM], first);
  }

  get attached(): number {
    return this.swarms.reduce((n, s) => n + s.attached, 0);
  }

  get count(): number {
    return this.swarms.reduce((n, s) => n + s.count, 0);
  }

  /** Starts every agent at once. */
  go(): void {
    for (const s of this.swarms) s.child.send({ type: 'go' });
  }

  /** Resolves (with performance.now()) when every swarm has all its agents registered, or none. */
  async allAttached(timeoutMs = 300_000): Promise<number> {
    return this.wait((s) => s.attached === s.count, timeoutMs, 'all agents registered');
  }

  async noneAttached(timeoutMs = 60_000): Promise<number> {
    return this.wait((s) => s.attached === 0, timeoutMs, 'every agent disconnected');
  }

  private async wait(test: (s: Swarm) => boolean, timeoutMs: number, what: string): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`not ${what} within ${timeoutMs} ms (${this.attached} of ${this.count} registered)`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([Promise.all(this.swarms.map((s) => s.until(() => test(s)))), timeout]);
    } finally {
      clearTimeout(timer);
    }
    return performance.now();
  }

  /** Result acknowledgement times (ms) since the last call, from every swarm. */
  async resultAckMs(): Promise<number[]> {
    const all = await Promise.all(this.swarms.map((s) => s.request('stats')));
    return all.flatMap((m) => m.resultAckMs);
  }

  /** Every swarm process spawns as many `true` as it has agents, raw, all at once: first spawn → last exit, ms. */
  async spawnTrue(): Promise<number> {
    const times = await Promise.all(this.swarms.map((s) => s.request('spawned', 'spawn')));
    return Math.max(...times.map((t) => t.t1)) - Math.min(...times.map((t) => t.t0));
  }

  get pids(): number[] {
    return this.swarms.map((s) => s.child.pid as number);
  }

  async stop(): Promise<void> {
    await Promise.all(this.swarms.map((s) => stop(s.child, 'SIGTERM', 5000)));
  }
}

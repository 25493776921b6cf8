import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './processes.js';

/** A real redis-server on a free loopback port, without persistence; `stop()` kills it, `start()` brings it back. */
export class RedisServer {
  private child: ChildProcess | null = null;
  private constructor(
    readonly port: number,
    /** Where a snapshot goes (`stop({ save: true })`) and is read back from at the next start. */
    private readonly dir: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<RedisServer> {
    const server = new RedisServer(await freePort(), await mkdtemp(join(tmpdir(), 'ogent-redis-')));
    await server.start();
    return server;
  }

  async start(): Promise<void> {
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${out}`)), 10_000);
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with ${code}:\n${out}`));
      });
    });
  }

  /**
   * Kills it (SIGKILL: Redis vanishes, as in a crash) and waits for the exit; `save` first writes a snapshot that
   * the next `start()` loads (a Redis with persistence going away and coming back).
   */
  async stop({ save = false, keep = save }: { save?: boolean; keep?: boolean } = {}): Promise<void> {
    const child = this.child;
    this.child = null;
    if (child && child.exitCode === null) {
      if (save) {
        const client = new Redis(this.url, { lazyConnect: true });
        await client.connect();
        await client.save();
        client.disconnect();
      }
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGKILL');
      await exited;
    }
    if (!keep) await rm(this.dir, { recursive: true, force: true });
  }
}

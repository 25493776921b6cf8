import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { login, request } from '../../src/client/http.js';
import type { Job } from '../../src/domain/model.js';
import { startDaemon, type Daemon } from './cli.js';
import { waitFor } from './fixtures.js';
import { swarmPassword } from './swarm.js';

export const ADMIN_PASSWORD = 'admin-password-1';
const SWARM = fileURLToPath(new URL('./swarm.ts', import.meta.url));

/** A port that was free a moment ago, for a controller that must come back on the same address. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export type ControllerProcess = Daemon & { url: string };

/** `bin/run.js controller serve` on 127.0.0.1:port with its own data dir. */
export async function controllerProcess(
  dataDir: string,
  port: number,
  extra: string[] = [],
  env: Record<string, string> = {},
): Promise<ControllerProcess> {
  const daemon = await startDaemon(
    ['controller', 'serve', '--port', String(port), '--data-dir', dataDir, '--log-level', 'warn', ...extra],
    /listening on (http:\/\/\S+)/,
    { env: { OGENT_ADMIN_PASSWORD: ADMIN_PASSWORD, ...env } },
  );
  return { ...daemon, url: daemon.match[1] as string };
}

export async function adminToken(url: string): Promise<string> {
  return (await login(url, 'admin', ADMIN_PASSWORD)).access_token;
}

/** Agent users `PREFIX-1..COUNT` with the swarm's passwords. */
export async function createAgentUsers(url: string, prefix: string, count: number): Promise<string[]> {
  const token = await adminToken(url);
  const names = Array.from({ length: count }, (_, i) => `${prefix}-${i + 1}`);
  for (const name of names) {
    const res = await request(url, '/api/v1/users', {
      method: 'POST',
      token,
      body: { name, role: 'agent', password: swarmPassword(name) },
    });
    if (res.status !== 201) throw new Error(`user ${name}: ${res.status} ${res.text}`);
  }
  return names;
}

/** COUNT real agents in one process; resolves when all are connected. */
export function startSwarm(url: string, prefix: string, count: number, stateRoot = '-'): Promise<Daemon> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', SWARM, url, prefix, String(count), stateRoot], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const timer = setTimeout(() => reject(new Error(`swarm not ready:\n${out}`)), 60_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes('swarm ready')) {
        clearTimeout(timer);
        resolve({
          child,
          output: () => out,
          async stop(signal = 'SIGTERM') {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            return exited;
          },
        });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then((code) => reject(new Error(`swarm exited with ${code}:\n${out}`)));
  });
}

export async function api<T>(url: string, token: string, path: string, method = 'GET', body?: unknown): Promise<T> {
  const res = await request<T>(url, path, { method, token, body });
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${res.text}`);
  return res.body;
}

/** The job once it is no longer running, polled over the API (`token` may be a function, for a token that expires). */
export function endedJob(
  url: string,
  token: string | (() => Promise<string>),
  jobId: string,
  what = `job ${jobId} to end`,
  timeoutMs = 30_000,
): Promise<Job> {
  return waitFor(
    async () => {
      const j = await api<Job>(url, typeof token === 'string' ? token : await token(), `/api/v1/jobs/${jobId}`);
      return j.status !== 'running' && j;
    },
    what,
    timeoutMs,
  );
}

/** A pid is gone when it no longer exists or is a zombie nobody reaped yet (PID 1 of a container may not). */
export async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (stat === null) return false;
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}

import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hashPassword } from '../../../src/controller/application/passwords.js';
import { JoseTokenService } from '../../../src/controller/infrastructure/tokens.js';
import type { Role, User } from '../../../src/domain/model.js';
import { BIN, profileArgs, ROOT, start, stop, waitForOutput } from './proc.js';

/** Every bench agent user shares one password, hashed once: setup costs one scrypt, not one per agent. */
export const AGENT_PASSWORD = 'bench-agent-password-1';
export const ADMIN_PASSWORD = 'bench-admin-password-1';

let hashes: Promise<{ admin: string; agent: string }> | undefined;
export const passwordHashes = () =>
  (hashes ??= Promise.all([hashPassword(ADMIN_PASSWORD), hashPassword(AGENT_PASSWORD)]).then(([admin, agent]) => ({
    admin,
    agent,
  })));

export const agentNames = (prefix: string, count: number, from = 1) =>
  Array.from({ length: count }, (_, i) => `${prefix}-${from + i}`);

/**
 * A controller data dir written directly (users.json and secret.key in the store's own format), so a fleet of
 * 10,000 agent users costs no REST calls and no per-user scrypt. Returns the JWT secret.
 */
export async function prepareDataDir(dir: string, agents: string[]): Promise<Buffer> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const { admin, agent } = await passwordHashes();
  const createdAt = new Date().toISOString();
  const users: User[] = [
    { name: 'admin', role: 'admin', passwordHash: admin, createdAt },
    ...agents.map((name): User => ({ name, role: 'agent', passwordHash: agent, createdAt })),
  ];
  await writeFile(join(dir, 'users.json'), JSON.stringify({ users }));
  const secret = randomBytes(32);
  await writeFile(join(dir, 'secret.key'), `${secret.toString('base64')}\n`, { mode: 0o600 });
  return secret;
}

/** Tokens signed with the data dir's secret: exactly what `POST /token` would answer, without its scrypt. */
export function tokenIssuer(secret: Buffer) {
  const service = new JoseTokenService(secret, 3600);
  return async (name: string, role: Role) => (await service.issue(name, role, 0)).token;
}

/**
 * Loaded into measured Node processes with `--import`: the event-loop delay histogram (asked over IPC) and, at exit,
 * the process's CPU time and peak RSS written to $OGENT_BENCH_PROBE. A closed IPC channel ends the process.
 */
const PROBE = `
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { writeFileSync } from 'node:fs';
const h = monitorEventLoopDelay({ resolution: 10 });
h.enable();
let gcMax = 0, gcTotal = 0;
new PerformanceObserver((list) => { for (const e of list.getEntries()) { gcMax = Math.max(gcMax, e.duration); gcTotal += e.duration; } }).observe({ entryTypes: ['gc'] });
const memlog = process.env.OGENT_BENCH_MEMLOG;
if (memlog) {
  const { appendFileSync } = await import('node:fs');
  setInterval(() => {
    const m = process.memoryUsage();
    appendFileSync(memlog, Date.now() + ' ' + [m.rss, m.heapTotal, m.heapUsed, m.external, m.arrayBuffers].map((v) => (v / 1e6).toFixed(1)).join(' ') + '\\n');
  }, 50).unref();
}
const out = process.env.OGENT_BENCH_PROBE;
if (out) process.on('exit', () => {
  const u = process.resourceUsage();
  writeFileSync(out, JSON.stringify({ cpuS: (u.userCPUTime + u.systemCPUTime) / 1e6, maxRssMb: u.maxRSS / 1024, wallS: process.uptime() }));
});
if (process.send) {
  process.on('message', (m) => {
    if (m && m.type === 'loop-reset') { h.reset(); gcMax = 0; gcTotal = 0; process.send({ type: 'loop-reset' }); }
    if (m && m.type === 'loop') process.send({ type: 'loop', p50: h.percentile(50) / 1e6, p99: h.percentile(99) / 1e6, max: h.max / 1e6, gcMax, gcTotal });
  });
  process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
  process.channel && process.channel.unref();
}
`;
export const PROBE_IMPORT = `--import=data:text/javascript,${encodeURIComponent(PROBE)}`;

export interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
  /** Garbage collection in the same window: the longest pause and the sum, ms. */
  gcMax: number;
  gcTotal: number;
}

export interface Controller {
  url: string;
  port: number;
  dataDir: string;
  child: ChildProcess;
  pid: number;
  /** Spawn to "listening", ms. */
  startMs: number;
  /** Restarts the event-loop delay histogram. */
  resetLoop(): Promise<void>;
  loop(): Promise<LoopDelay>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Every emulated agent connects from 127.0.0.1: the per-address caps (4,096 connections, 512 of them not authenticated
 * yet) are for real clients, and a 10,000-agent swarm or its reconnection storm would be turned away by them.
 */
const FLEET_ON_LOOPBACK = ['--max-connections-per-address', '1000000', '--max-unauthenticated-per-address', '1000000'];

/** `bin/run.js controller serve` (the real thing) with the probe loaded, on 127.0.0.1. */
export async function startController(dataDir: string, port = 0, extra: string[] = []): Promise<Controller> {
  const t0 = performance.now();
  const child = start(
    process.execPath,
    [...profileArgs('controller'), ...(process.env.OGENT_BENCH_CONTROLLER_NODE_OPTIONS?.split(' ').filter(Boolean) ?? []), PROBE_IMPORT, BIN, 'controller', 'serve', '--port', String(port), '--data-dir', dataDir, '--log-level', 'error', ...FLEET_ON_LOOPBACK, ...extra],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env: { ...process.env, OGENT_ADMIN_PASSWORD: ADMIN_PASSWORD } },
  );
  let log = '';
  child.stderr?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-8000)));
  const m = await waitForOutput(child, /listening on (http:\/\/\S+)/, 'controller', 120_000);
  const startMs = performance.now() - t0;
  const url = m[1] as string;
  const ask = <T>(type: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`controller did not answer ${type}:\n${log}`)), 10_000);
      const onMessage = (msg: { type?: string }) => {
        if (msg?.type !== type) return;
        clearTimeout(timer);
        child.off('message', onMessage);
        resolve(msg as T);
      };
      child.on('message', onMessage);
      child.send({ type });
    });
  return {
    url,
    port: Number(new URL(url).port),
    dataDir,
    child,
    pid: child.pid as number,
    startMs,
    resetLoop: async () => void (await ask('loop-reset')),
    loop: () => ask<LoopDelay>('loop'),
    stop: (signal = 'SIGTERM') => stop(child, signal),
  };
}

/** A whole `bin/run.js` CLI invocation's environment: the controller, an admin token, no stored login, no colour. */
export function cliEnv(url: string, token: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    OGENT_CONTROLLER: url,
    OGENT_TOKEN: token,
    XDG_CONFIG_HOME: join(ROOT, '.bench', 'no-config'),
    NO_COLOR: '1',
    ...extra,
  };
}

/** A REST call as a client makes it; returns the body and the round-trip time. */
export async function api<T>(
  url: string,
  token: string,
  path: string,
  method = 'GET',
  body?: unknown,
): Promise<{ body: T; ms: number }> {
  const t0 = performance.now();
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  const ms = performance.now() - t0;
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return { body: JSON.parse(text) as T, ms };
}

/** Polls GET /api/v1/agents until `count` agents are online. */
export async function waitOnline(url: string, token: string, count: number, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await api<{ agents: Array<{ status: string }> }>(url, token, '/api/v1/agents');
    const online = body.agents.filter((a) => a.status === 'online').length;
    if (online >= count) return;
    if (Date.now() > until) throw new Error(`only ${online} of ${count} agents online after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

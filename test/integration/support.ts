import { readFile } from 'node:fs/promises';
import { io, type Socket } from 'socket.io-client';
import type { RunningController } from '../../src/controller/index.js';
import type { AgentInfo, Job, Role } from '../../src/domain/model.js';
import { login, request } from '../../src/client/http.js';
import { EV, type ExecuteCommand } from '../../src/protocol/events.js';
import { VERSION } from '../../src/lib/version.js';
import { waitFor } from '../helpers/fixtures.js';

/** Creates a user with `role` (as admin, in process) and returns a token for it from `POST /token`. */
export async function userToken(controller: RunningController, name: string, role: Role): Promise<string> {
  const password = `pw-${name}-123456`;
  await controller.auth.addUser({ name: 'admin', role: 'admin' }, name, role, password);
  return (await login(controller.url, name, password)).access_token;
}

/** A raw HTTP call: any method, body text and headers, the answer parsed when it is JSON. */
export async function http(
  url: string,
  path: string,
  init: { method?: string; token?: string; body?: string; type?: string } = {},
): Promise<{ status: number; body: Record<string, unknown>; text: string; headers: Headers }> {
  const headers: Record<string, string> = {};
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.type) headers['content-type'] = init.type;
  const res = await fetch(`${url}${path}`, { method: init.method ?? 'GET', headers, body: init.body });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON: the caller looks at `text`
  }
  return { status: res.status, body, text, headers: res.headers };
}

export async function getJob(controller: RunningController, token: string, id: string): Promise<Job> {
  const res = await request<Job>(controller.url, `/api/v1/jobs/${id}`, { token });
  if (res.status !== 200) throw new Error(`GET job ${id}: ${res.status} ${res.text}`);
  return res.body;
}

export async function createJob(
  controller: RunningController,
  token: string,
  body: { command: string; target: string[]; timeoutMs?: number },
): Promise<Job> {
  const res = await request<Job>(controller.url, '/api/v1/jobs', { method: 'POST', token, body });
  if (res.status !== 201) throw new Error(`POST job: ${res.status} ${res.text}`);
  return res.body;
}

export function finishedJob(controller: RunningController, token: string, id: string, timeoutMs = 15_000) {
  return waitFor(
    async () => {
      const job = await getJob(controller, token, id);
      return job.status !== 'running' && job;
    },
    `job ${id} to finish`,
    timeoutMs,
  );
}

/** The job document as the controller wrote it to its data dir. */
export async function jobOnDisk(dataDir: string, id: string): Promise<Job> {
  return JSON.parse(await readFile(`${dataDir}/jobs/${id}.json`, 'utf8')) as Job;
}

export type RawSocket = Socket;

/** A socket.io client with no retries, so a refused handshake is reported once. */
export function rawSocket(url: string, namespace: string, auth: Record<string, unknown>): RawSocket {
  return io(`${url}${namespace}`, { transports: ['websocket'], reconnection: false, forceNew: true, auth });
}

/** Resolves with `data.code` of the handshake refusal, or rejects when the socket connects. */
export function refusal(socket: RawSocket): Promise<{ code?: string; message: string }> {
  return new Promise((resolve, reject) => {
    socket.once('connect', () => {
      socket.disconnect();
      reject(new Error('the handshake was accepted'));
    });
    socket.once('connect_error', (err: Error & { data?: { code?: string } }) => {
      socket.disconnect();
      resolve({ code: err.data?.code, message: err.message });
    });
  });
}

export function connected(socket: RawSocket): Promise<RawSocket> {
  return new Promise((resolve, reject) => {
    if (socket.connected) return resolve(socket);
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err: Error & { data?: unknown }) =>
      reject(new Error(`refused: ${err.message} ${JSON.stringify(err.data)}`)),
    );
  });
}

export function agentInfo(name: string, labels: Record<string, string> = {}): AgentInfo {
  return {
    name,
    hostname: 'raw-host',
    platform: 'linux',
    arch: 'x64',
    release: '6.0',
    cpus: 2,
    memoryBytes: 1024,
    uptimeS: 1,
    version: `${VERSION}-test`,
    labels,
    executors: ['shell'],
  };
}

/**
 * A hand-driven agent on `/agents`: it registers with `agent_info`, records every `execute_command`
 * (acknowledging it as accepted) and sends whatever the test tells it to.
 */
export class RawAgent {
  readonly commands: ExecuteCommand[] = [];
  readonly cancels: string[] = [];
  /** With `holdAcks`: the acks of execute_command not sent yet, by run id (send one with `accept`). */
  readonly held = new Map<string, (r: { accepted: boolean }) => void>();

  private constructor(
    readonly name: string,
    readonly socket: RawSocket,
    holdAcks = false,
  ) {
    socket.on(EV.executeCommand, (command: ExecuteCommand, ack: (r: { accepted: boolean }) => void) => {
      this.commands.push(command);
      if (holdAcks) this.held.set(command.runId, ack);
      else ack({ accepted: true });
    });
    socket.on(EV.cancelCommand, (c: { runId: string }, ack: (r: { ok: boolean }) => void) => {
      this.cancels.push(c.runId);
      ack({ ok: true });
    });
  }

  static async connect(
    controller: RunningController,
    name: string,
    labels: Record<string, string> = {},
    options: { holdAcks?: boolean } = {},
  ) {
    const token = await userToken(controller, name, 'agent');
    const socket = await connected(rawSocket(controller.url, '/agents', { token }));
    const agent = new RawAgent(name, socket, options.holdAcks);
    const ack = (await socket.timeout(5000).emitWithAck(EV.agentInfo, agentInfo(name, labels))) as { ok: boolean };
    if (!ack.ok) throw new Error(`agent_info refused: ${JSON.stringify(ack)}`);
    return agent;
  }

  command(runId: string): Promise<ExecuteCommand> {
    return waitFor(() => this.commands.find((c) => c.runId === runId), `execute_command for ${runId}`);
  }

  accept(runId: string): void {
    this.held.get(runId)?.({ accepted: true });
    this.held.delete(runId);
  }

  emitWithAck(event: string, payload: unknown): Promise<Record<string, unknown>> {
    return this.socket.timeout(5000).emitWithAck(event, payload) as Promise<Record<string, unknown>>;
  }

  close(): void {
    this.socket.disconnect();
  }
}

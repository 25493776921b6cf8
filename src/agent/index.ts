import { login } from '../client/http.js';
import type { Logger } from '../lib/log.js';
import { AgentClient, type TokenSource } from './client.js';
import { hostFacts } from './facts.js';
import { AgentManager } from './manager.js';
import { ResultSpool } from './spool.js';

export interface AgentOptions {
  controller: string;
  name: string;
  labels: Record<string, string>;
  /** Where the result spool lives; null keeps it in memory (the in-process local agent). */
  stateDir: string | null;
  tokens: TokenSource;
  log: Logger;
  minDelayMs?: number;
  maxDelayMs?: number;
}

export interface RunningAgent {
  client: AgentClient;
  manager: AgentManager;
  /** Resolves once registered with the controller the first time. */
  ready: Promise<void>;
  stop(): Promise<void>;
}

/** Tokens from `POST /token` with a user name and password, renewed before they expire. */
export function passwordTokens(controller: string, username: string, password: string): TokenSource {
  let cached: { token: string; expiresAt: number } | null = null;
  return {
    async get(refresh = false) {
      if (!refresh && cached && cached.expiresAt - Date.now() > 30_000) return cached.token;
      const res = await login(controller, username, password);
      cached = { token: res.access_token, expiresAt: Date.now() + res.expires_in * 1000 };
      return cached.token;
    },
  };
}

export async function startAgent(options: AgentOptions): Promise<RunningAgent> {
  const spool = new ResultSpool(options.stateDir);
  await spool.open();
  const manager = new AgentManager(spool, options.log);
  const client = new AgentClient({
    url: options.controller,
    tokens: options.tokens,
    info: () => hostFacts(options.name, options.labels, manager.executorNames),
    manager,
    log: options.log,
    minDelayMs: options.minDelayMs,
    maxDelayMs: options.maxDelayMs,
  });
  const ready = client.start();
  return {
    client,
    manager,
    ready,
    async stop() {
      await client.stop();
      await manager.stopAll();
    },
  };
}

import { login } from '../lib/http-client.js';
import { EXIT, UserError } from '../lib/errors.js';
import { withFields, type Logger } from '../lib/log.js';
import { AgentClient, type TlsTrust, type TokenSource } from './client.js';
import { buildExecutors, type ExecutorSettings } from './executors/index.js';
import { hostFacts } from './facts.js';
import { CommandPolicy, type PolicyRules } from './policy.js';
import { AgentManager } from './manager.js';
import { PromAgentMetrics, serveAgentMetrics, type MetricsServer } from './metrics.js';
import { ResultSpool } from './spool.js';

export interface AgentOptions {
  /** The controller, or several sharing one Redis (scale-out): the agent fails over between them. */
  controller: string | string[];
  /** How to check the controller's certificate on an https:// URL. */
  tls?: TlsTrust;
  name: string;
  labels: Record<string, string>;
  /** Where the result spool lives; null keeps it in memory (the in-process local agent). */
  stateDir: string | null;
  tokens: TokenSource;
  log: Logger;
  minDelayMs?: number;
  maxDelayMs?: number;
  /** ssh hosts and client settings; shell, exec and script need none. */
  executors?: ExecutorSettings;
  /** Serve Prometheus metrics on this port (`agent run --metrics-port`); 0 picks a free one. */
  metricsPort?: number;
  /** Address for the metrics (default: loopback). */
  metricsHost?: string;
  /** `--allow` / `--deny` (and `--policy FILE`); an invalid expression throws PolicyError. */
  policy?: PolicyRules;
}

export interface StopOptions {
  /** How long running commands may go on before they are cancelled (default: 0, at once). */
  graceMs?: number;
}

/** How long a stopping agent waits for the controller to acknowledge its last results (the rest stay spooled). */
const REPORT_WAIT_MS = 5000;
/** The same when stopped without grace (tests, the controller's local agent): acks come fast or not at all. */
const REPORT_WAIT_NO_GRACE_MS = 1000;

export interface RunningAgent {
  client: AgentClient;
  manager: AgentManager;
  /** Resolves once registered with the controller the first time. */
  ready: Promise<void>;
  /** Resolves (never rejects) with the controller's message if it refuses this agent's version: it stopped connecting. */
  refused: Promise<string>;
  /** Where `GET /metrics` answers, when `metricsPort` was given. */
  metricsUrl?: string;
  /**
   * Stops taking runs, lets running ones finish within `graceMs` (then cancels them), reports or spools every result,
   * then disconnects. A second call with `graceMs: 0` cuts the grace short.
   */
  stop(options?: StopOptions): Promise<void>;
}

/** Tokens from `POST /token` with a user name and password, renewed before they expire. */
export function passwordTokens(
  controller: string | string[],
  username: string,
  password: string,
  ca?: string,
): TokenSource {
  let cached: { token: string; expiresAt: number } | null = null;
  const urls = Array.isArray(controller) ? controller : [controller];
  // Several controllers (scale-out) share the signing secret: a token from one is good on all of them.
  let at = 0;
  const loginAnywhere = async () => {
    for (let tried = 1; ; tried++) {
      try {
        return await login(urls[at % urls.length] as string, username, password, ca);
      } catch (err) {
        if (tried >= urls.length || !(err instanceof UserError) || err.exit !== EXIT.unreachable) throw err;
        at += 1;
      }
    }
  };
  return {
    async get(refresh = false) {
      if (!refresh && cached && cached.expiresAt - Date.now() > 30_000) return cached.token;
      const res = await loginAnywhere();
      cached = { token: res.access_token, expiresAt: Date.now() + res.expires_in * 1000 };
      return cached.token;
    },
  };
}

export async function startAgent(options: AgentOptions): Promise<RunningAgent> {
  // Checked first: a bad policy stops the agent before it touches its spool or the network.
  const policy = new CommandPolicy(options.policy ?? { allow: [], deny: [] });
  const spool = new ResultSpool(options.stateDir);
  await spool.open();
  const metrics =
    options.metricsPort === undefined
      ? undefined
      : new PromAgentMetrics({ running: (): number => manager.running, spooled: () => spool.pending().length });
  // Every line names the agent: many agents' logs end up in one place (or one process, for --local-agent).
  const log = withFields(options.log, { agent: options.name });
  const manager: AgentManager = new AgentManager(spool, log, buildExecutors(options.executors), metrics, policy);
  let metricsServer: MetricsServer | undefined;
  if (metrics && options.metricsPort !== undefined) {
    metricsServer = await serveAgentMetrics(metrics.registry, options.metricsPort, options.metricsHost);
  }
  const sshHosts = manager.executorNames.includes('ssh') ? Object.keys(options.executors?.sshHosts ?? {}) : [];
  const client = new AgentClient({
    url: options.controller,
    tls: options.tls,
    tokens: options.tokens,
    info: () => ({
      ...hostFacts(options.name, options.labels, manager.executorNames, sshHosts),
      policy: policy.rules,
      ...(options.executors?.runAs ? { runAs: options.executors.runAs.name } : {}),
    }),
    manager,
    log,
    minDelayMs: options.minDelayMs,
    maxDelayMs: options.maxDelayMs,
    metrics,
    onRefused: (message) => onRefused(message),
  });
  let onRefused: (message: string) => void = () => {};
  const refused = new Promise<string>((resolve) => (onRefused = resolve));
  const ready = client.start();
  let stopping: Promise<void> | undefined;
  return {
    client,
    manager,
    ready,
    refused,
    metricsUrl: metricsServer?.url,
    stop({ graceMs = 0 }: StopOptions = {}) {
      if (stopping) {
        if (graceMs === 0) void manager.drain(0);
        return stopping;
      }
      stopping = (async () => {
        await manager.drain(graceMs);
        await manager.whenReported(graceMs > 0 ? REPORT_WAIT_MS : REPORT_WAIT_NO_GRACE_MS);
        await manager.keepUnreported();
        await client.stop();
        manager.close();
        await metricsServer?.close();
      })();
      return stopping;
    },
  };
}

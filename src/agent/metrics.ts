import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { StartupError } from '../lib/errors.js';
import { VERSION } from '../lib/version.js';

/** What the agent reports to monitoring; `noAgentMetrics` when `--metrics-port` is not given. */
export interface AgentMetrics {
  /** A run ended on this agent (its result is spooled). */
  runFinished(status: string): void;
  connected(): void;
  disconnected(): void;
}

export const noAgentMetrics: AgentMetrics = { runFinished() {}, connected() {}, disconnected() {} };

/** Read when Prometheus scrapes. */
export interface AgentMetricSources {
  running(): number;
  /** Results waiting in the spool for the controller's acknowledgement. */
  spooled(): number;
}

/** The agent's Prometheus metrics, served by `serveAgentMetrics` on `agent run --metrics-port`. */
export class PromAgentMetrics implements AgentMetrics {
  readonly registry = new Registry();
  private connects = 0;
  private readonly runs = new Counter({
    name: 'ogent_agent_runs_total',
    help: 'Runs this agent finished, by status.',
    labelNames: ['status'],
    registers: [this.registry],
  });
  private readonly failures = new Counter({
    name: 'ogent_agent_run_failures_total',
    help: 'Runs that did not succeed (failed, timed out, cancelled, lost).',
    registers: [this.registry],
  });
  private readonly reconnects = new Counter({
    name: 'ogent_agent_reconnects_total',
    help: 'Connections to the controller after the first one.',
    registers: [this.registry],
  });
  private readonly connection = new Gauge({
    name: 'ogent_agent_connected',
    help: '1 while connected to the controller.',
    registers: [this.registry],
  });

  constructor(sources: AgentMetricSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    new Gauge({ name: 'ogent_agent_info', help: 'Always 1.', labelNames: ['version'], registers }).set(
      { version: VERSION },
      1,
    );
    new Gauge({
      name: 'ogent_agent_runs_running',
      help: 'Runs executing now.',
      registers,
      collect() {
        this.set(sources.running());
      },
    });
    new Gauge({
      name: 'ogent_agent_spool_results',
      help: 'Results in the spool not yet acknowledged by the controller.',
      registers,
      collect() {
        this.set(sources.spooled());
      },
    });
    this.runs.inc({ status: 'succeeded' }, 0);
    this.connection.set(0);
  }

  runFinished(status: string): void {
    this.runs.inc({ status });
    if (status !== 'succeeded') this.failures.inc();
  }

  connected(): void {
    if (this.connects++ > 0) this.reconnects.inc();
    this.connection.set(1);
  }

  disconnected(): void {
    this.connection.set(0);
  }
}

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/** `GET /metrics` on host:port (loopback unless told otherwise). */
export async function serveAgentMetrics(registry: Registry, port: number, host = '127.0.0.1'): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new StartupError(`--metrics-port ${port} on ${host} is in use`) : err),
    );
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shown}:${address.port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Job, Run } from '../../domain/model.js';
import { REFUSAL_REASONS, type RefusalReason } from '../connection-limits.js';
import { VERSION } from '../../lib/version.js';
import type { JobMetrics } from '../application/metrics.js';

/** What the collect-time gauges read, each when Prometheus scrapes. */
export interface MetricSources {
  /** Agents by registry status. */
  agents(): Promise<Array<{ status: string }>>;
  /** Agents connected and registered right now. */
  connectedAgents(): number;
  /** Open Socket.IO connections per namespace. */
  sockets(): Record<string, number>;
  /** Unfinished jobs and their runs by status. */
  activeCounts(): { jobs: number; runs: Partial<Record<string, number>> };
  /** Output received from agents and not stored yet. */
  unstoredOutputBytes(): number;
  /** The data dir, whose size is reported (walked at most every STORE_SIZE_EVERY_MS). */
  dataDir: string;
}

const STORE_SIZE_EVERY_MS = 30_000;
/** Seconds: from sub-millisecond (persist) to an hour (run duration). */
const FAST = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const SLOW = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

/** The controller's Prometheus metrics (`GET /metrics`), on a registry of its own. */
export class ControllerMetrics implements JobMetrics {
  readonly registry = new Registry();
  private readonly jobsCreated = new Counter({
    name: 'ogent_jobs_created_total',
    help: 'Jobs created.',
    registers: [this.registry],
  });
  private readonly jobsFinished = new Counter({
    name: 'ogent_jobs_finished_total',
    help: 'Jobs finished, by final status.',
    labelNames: ['status'],
    registers: [this.registry],
  });
  private readonly runsFinished = new Counter({
    name: 'ogent_runs_finished_total',
    help: 'Runs that reached a terminal status, by status.',
    labelNames: ['status'],
    registers: [this.registry],
  });
  private readonly dispatchToStart = new Histogram({
    name: 'ogent_run_dispatch_to_start_seconds',
    help: 'From sending a run to its agent to the run starting there.',
    buckets: FAST,
    registers: [this.registry],
  });
  private readonly runDuration = new Histogram({
    name: 'ogent_run_duration_seconds',
    help: 'How long finished runs ran (start to finish).',
    buckets: SLOW,
    registers: [this.registry],
  });
  private readonly connectionsRefused = new Counter({
    name: 'ogent_connections_refused_total',
    help: 'Connections refused past a cap, by reason (per_address, unauthenticated_per_address, per_user, per_agent).',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  private readonly resultPersist = new Histogram({
    name: 'ogent_result_persist_seconds',
    help: 'From a command_result arriving to its run being stored (the agent waits this long for its ack).',
    buckets: FAST,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    for (const reason of REFUSAL_REASONS) this.connectionsRefused.inc({ reason }, 0);
    new Gauge({
      name: 'ogent_info',
      help: 'Always 1; the version in a label.',
      labelNames: ['version'],
      registers: [this.registry],
    }).set({ version: VERSION }, 1);
  }

  /** Gauges read at scrape time from the running controller. */
  observe(sources: MetricSources): this {
    const registers = [this.registry];
    new Gauge({
      name: 'ogent_agents',
      help: 'Known agents by status (online, offline).',
      labelNames: ['status'],
      registers,
      async collect() {
        const counts: Record<string, number> = { online: 0, offline: 0 };
        for (const agent of await sources.agents()) counts[agent.status] = (counts[agent.status] ?? 0) + 1;
        for (const [status, n] of Object.entries(counts)) this.set({ status }, n);
      },
    });
    new Gauge({
      name: 'ogent_agents_connected',
      help: 'Agents connected to this controller and registered.',
      registers,
      collect() {
        this.set(sources.connectedAgents());
      },
    });
    new Gauge({
      name: 'ogent_sockets',
      help: 'Open Socket.IO connections, by namespace.',
      labelNames: ['namespace'],
      registers,
      collect() {
        for (const [namespace, n] of Object.entries(sources.sockets())) this.set({ namespace }, n);
      },
    });
    new Gauge({
      name: 'ogent_output_unstored_bytes',
      help: 'Output received from agents and not stored yet (an agent is paused past 2 MiB of its own).',
      registers,
      collect() {
        this.set(sources.unstoredOutputBytes());
      },
    });
    new Gauge({
      name: 'ogent_jobs_running',
      help: 'Jobs not finished yet.',
      registers,
      collect() {
        this.set(sources.activeCounts().jobs);
      },
    });
    new Gauge({
      name: 'ogent_runs',
      help: 'Runs of unfinished jobs, by status.',
      labelNames: ['status'],
      registers,
      collect() {
        this.reset();
        for (const status of ['queued', 'dispatched', 'running']) this.set({ status }, 0);
        for (const [status, n] of Object.entries(sources.activeCounts().runs)) this.set({ status }, n ?? 0);
      },
    });
    let storeSize: { bytes: number; at: number } | undefined;
    new Gauge({
      name: 'ogent_store_bytes',
      help: 'Bytes in the data dir (job documents, output, users, agents).',
      registers,
      async collect() {
        if (!storeSize || Date.now() - storeSize.at > STORE_SIZE_EVERY_MS) {
          storeSize = { bytes: await dirSize(sources.dataDir), at: Date.now() };
        }
        this.set(storeSize.bytes);
      },
    });
    return this;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  jobCreated(): void {
    this.jobsCreated.inc();
  }

  jobFinished(job: Job): void {
    this.jobsFinished.inc({ status: job.status });
  }

  runStarted(run: Run): void {
    if (run.dispatchedAt) this.dispatchToStart.observe(Math.max(0, Date.now() - Date.parse(run.dispatchedAt)) / 1000);
  }

  runFinished(run: Run): void {
    this.runsFinished.inc({ status: run.status });
    if (run.durationMs !== null) this.runDuration.observe(run.durationMs / 1000);
  }

  resultPersisted(s: number): void {
    this.resultPersist.observe(s);
  }

  connectionRefused(reason: RefusalReason): void {
    this.connectionsRefused.inc({ reason });
  }
}

/** Total size of the files under `dir` (a missing dir is 0). */
async function dirSize(dir: string): Promise<number> {
  let bytes = 0;
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) bytes += await dirSize(path);
    else if (entry.isFile()) bytes += (await stat(path).catch(() => null))?.size ?? 0;
  }
  return bytes;
}

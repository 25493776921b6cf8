import { startAgent, passwordTokens, type RunningAgent } from '../../src/agent/index.js';
import type { ExecutorSettings } from '../../src/agent/executors/index.js';
import type { RunningController } from '../../src/controller/index.js';
import type { Identity } from '../../src/controller/application/ports.js';
import type { Job } from '../../src/domain/model.js';
import { isTerminal } from '../../src/domain/run-state.js';
import { silentLogger } from '../../src/lib/log.js';
import type { JobRequest } from '../../src/protocol/events.js';
import { waitFor, type Fixtures } from './fixtures.js';

export const ADMIN: Identity = { name: 'admin', role: 'admin' };

/** Like `Fixtures.agent`, with executor settings (ssh hosts, ssh client, ssh_config). */
export async function agentWith(
  fx: Fixtures,
  controller: RunningController,
  name: string,
  executors: ExecutorSettings,
  labels: Record<string, string> = {},
): Promise<RunningAgent> {
  const password = `pw-${name}-123456`;
  await controller.auth.addUser(ADMIN, name, 'agent', password);
  const agent = await startAgent({
    controller: controller.url,
    name,
    labels,
    stateDir: null,
    tokens: passwordTokens(controller.url, name, password),
    log: silentLogger,
    minDelayMs: 50,
    maxDelayMs: 500,
    executors,
  });
  fx.defer(() => agent.stop());
  await agent.ready;
  return agent;
}

/** Creates a job as admin, in process, with the defaults `exec` sends. */
export async function createJob(controller: RunningController, request: Partial<JobRequest>): Promise<Job> {
  return controller.jobs.create(
    { target: [], executor: 'shell', timeoutMs: 20_000, ...request },
    ADMIN,
    await controller.agents.list(),
  );
}

export function finished(controller: RunningController, id: string, timeoutMs = 15_000): Promise<Job> {
  return waitFor(
    async () => {
      const job = await controller.jobs.get(id);
      return job.status !== 'running' && job;
    },
    `job ${id} to finish`,
    timeoutMs,
  );
}

/** Runs a job to its end and returns the finished document. */
export async function runJob(controller: RunningController, request: Partial<JobRequest>): Promise<Job> {
  return finished(controller, (await createJob(controller, request)).id);
}

/** The one run of a job, failing the test when there is not exactly one. */
export function onlyRun(job: Job) {
  if (job.runs.length !== 1 || !job.runs[0]) throw new Error(`expected one run, got ${job.runs.length}`);
  const run = job.runs[0];
  if (!isTerminal(run.status)) throw new Error(`run ${run.id} is ${run.status}`);
  return run;
}

/** The error `promise` rejects with; fails the test when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<Error & { status?: number; error?: string }> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection, but it resolved');
}

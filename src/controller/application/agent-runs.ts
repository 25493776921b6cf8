import type { Agent, Job } from '../../domain/model.js';
import type { AgentRunSummary } from '../../protocol/agents.js';

const PAGE = 50;

/** An agent's newest runs, newest first, looked for in the newest `scanJobs` jobs. */
export async function recentRunsOf(
  jobs: { list(limit: number, before?: string): Promise<Job[]> },
  agent: Pick<Agent, 'id' | 'name'>,
  limit: number,
  scanJobs = 1000,
): Promise<AgentRunSummary[]> {
  const found: AgentRunSummary[] = [];
  let before: string | undefined;
  for (let scanned = 0; scanned < scanJobs && found.length < limit;) {
    const page = await jobs.list(Math.min(PAGE, scanJobs - scanned), before);
    for (const job of page) {
      for (const run of job.runs) {
        if (run.agent.id !== agent.id && run.agent.name !== agent.name) continue;
        found.push({
          jobId: job.id,
          runId: run.id,
          command: run.command ?? job.command,
          status: run.status,
          exitCode: run.exitCode,
          createdAt: job.createdAt,
          startedAt: run.startedAt,
          finishedAt: run.finishedAt,
          durationMs: run.durationMs,
        });
      }
    }
    scanned += page.length;
    before = page.at(-1)?.id;
    if (page.length === 0 || !before) break;
  }
  return found.slice(0, limit);
}

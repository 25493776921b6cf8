import type { Run, RunStatus } from './model.js';

/** Runs that ended the same way with the same output, byte for byte (README, Grouped output). */
export interface OutputGroup {
  /** Agent (target) names, sorted. */
  agents: string[];
  count: number;
  status: RunStatus;
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** The job document holds only the start of this output (the whole is in `ogent jobs logs`). */
  truncated?: boolean;
}

type Grouped = Pick<Run, 'agent' | 'status' | 'exitCode' | 'stdout' | 'stderr' | 'stdoutTruncated' | 'stderrTruncated'>;

const byName = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });

/**
 * One group per distinct (status, exit code, stdout, stderr), largest first; equal sizes in the order of their first
 * agent's name. Output is compared exactly: a trailing newline, a byte of binary output or a line on stderr instead
 * of stdout makes another group. Pure.
 */
export function groupRuns(runs: readonly Grouped[]): OutputGroup[] {
  const groups = new Map<string, OutputGroup>();
  for (const run of runs) {
    const truncated = Boolean(run.stdoutTruncated || run.stderrTruncated);
    const key = JSON.stringify([run.status, run.exitCode, run.stdout, run.stderr, truncated]);
    let group = groups.get(key);
    if (!group) {
      group = {
        agents: [],
        count: 0,
        status: run.status,
        exitCode: run.exitCode,
        stdout: run.stdout,
        stderr: run.stderr,
        ...(truncated ? { truncated } : {}),
      };
      groups.set(key, group);
    }
    group.agents.push(run.agent.name);
    group.count++;
  }
  const all = [...groups.values()];
  for (const g of all) g.agents.sort(byName);
  return all.sort((a, b) => b.count - a.count || byName(a.agents[0] ?? '', b.agents[0] ?? ''));
}

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
  /** Why the runs did not run or end as they should (rejected, lost…), when they say. */
  error?: string;
  /** Only the start of this output is here (the whole is in `ogent jobs logs`). */
  truncated?: boolean;
}

/** Names in natural order (web-2 before web-10). One collator: `localeCompare` with options builds one per call. */
const byName = new Intl.Collator('en', { numeric: true }).compare;

/**
 * `items` in groups of equal `keyOf`, each group's items sorted by `nameOf`; largest group first, equal sizes in the
 * order of their first name. Pure.
 */
export function groupBy<T>(items: readonly T[], keyOf: (t: T) => string, nameOf: (t: T) => string): T[][] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  const all = [...groups.values()];
  for (const g of all) g.sort((a, b) => byName(nameOf(a), nameOf(b)));
  const first = (g: T[]) => nameOf(g[0] as T);
  return all.sort((a, b) => b.length - a.length || byName(first(a), first(b)));
}

type Grouped = Pick<
  Run,
  'agent' | 'status' | 'exitCode' | 'stdout' | 'stderr' | 'stdoutTruncated' | 'stderrTruncated' | 'error'
>;

/** How a run ended, as a group key: status, exit code and error (the output is keyed by its caller). */
export const endingKey = (run: Pick<Run, 'status' | 'exitCode' | 'error'>): string =>
  JSON.stringify([run.status, run.exitCode, run.error ?? null]);

/**
 * One group per distinct (status, exit code, error, stdout, stderr) of the job document's runs, largest first.
 * Output is compared exactly: a trailing newline or a line on stderr instead of stdout makes another group. Pure.
 */
export function groupRuns(runs: readonly Grouped[]): OutputGroup[] {
  const truncated = (r: Grouped) => Boolean(r.stdoutTruncated || r.stderrTruncated);
  const key = (r: Grouped) => JSON.stringify([endingKey(r), r.stdout, r.stderr, truncated(r)]);
  return groupBy(runs, key, (r) => r.agent.name).map((group) => {
    const run = group[0] as Grouped;
    return {
      agents: group.map((r) => r.agent.name),
      count: group.length,
      status: run.status,
      exitCode: run.exitCode,
      stdout: run.stdout,
      stderr: run.stderr,
      ...(run.error ? { error: run.error } : {}),
      ...(truncated(run) ? { truncated: true } : {}),
    };
  });
}

import type { Agent, AgentInfo, Run } from './model.js';
import { runnerOf } from './targets.js';

/**
 * What a job may need that not every release can do (docs/protocol.md §9). An agent announces the capabilities it has
 * in `agent_info.capabilities`, the controller in `GET /healthz`; an agent of the first release announces none.
 * A job that needs one its agent lacks gets a `rejected` run naming the agent's version, never a degraded run.
 * Pure.
 */
export const CAPABILITIES = {
  /** `execute_command.requires`: the agent refuses a command that requires a capability it does not know. */
  requires: 'check what a command requires',
  /** `execute_command.stdin`: the agent pulls the job's standard input and writes it to the process (docs/protocol.md §10). */
  stdin: 'take stdin',
} as const satisfies Record<string, string>;
export type Capability = keyof typeof CAPABILITIES;

/** What this release can do: agents announce it, and refuse an `execute_command` that requires anything else. */
export const KNOWN_CAPABILITIES: readonly Capability[] = Object.keys(CAPABILITIES) as Capability[];

/** Capabilities in `required` that `capabilities` (absent: a first-release peer) lacks, in the order given. */
export function missing(required: readonly string[], capabilities: readonly string[] | undefined): string[] {
  const have = new Set(capabilities ?? []);
  return required.filter((c) => !have.has(c));
}

/**
 * Why an agent cannot run a job that requires `required`, or undefined when it can:
 * "agent web-3 runs ogent 0.1.0, which cannot take stdin: upgrade it".
 */
export function lackReason(required: readonly string[], agent: string, info: AgentInfo | null): string | undefined {
  const lacking = missing(required, info?.capabilities);
  if (lacking.length === 0) return undefined;
  const version = info?.version ? `ogent ${info.version}` : 'an unknown version of ogent';
  const what = lacking.map((c) => (CAPABILITIES as Record<string, string>)[c] ?? `do "${c}"`).join(' or ');
  return `agent ${agent} runs ${version}, which cannot ${what}: upgrade it`;
}

/** The capabilities a job needs from the agent that runs it (stored with the job as `requires`). */
export function requiredBy(job: { stdin?: unknown }): Capability[] {
  // An agent of the first release would give the process an empty stdin: a silently emptied file, never a run.
  return job.stdin ? ['stdin'] : [];
}

/** Why this agent refuses a command that requires `required`, or undefined when it knows them all. */
export function unknownRequirement(required: readonly string[] | undefined, version: string): string | undefined {
  const unknown = missing(required ?? [], KNOWN_CAPABILITIES);
  if (unknown.length === 0) return undefined;
  return `this agent runs ogent ${version}, which does not know ${unknown.map((c) => `"${c}"`).join(', ')}: upgrade it`;
}

/** New runs whose agent lacks one of `requires`: rejected at once with the reason, so they are never dispatched. */
export function rejectLacking(runs: Run[], requires: readonly string[], agents: readonly Agent[], now: string): void {
  const byId = new Map(agents.map((a) => [a.id, a]));
  for (const run of runs) {
    const runner = runnerOf(run);
    const reason = lackReason(requires, runner.name, byId.get(runner.id)?.info ?? null);
    if (reason) Object.assign(run, { status: 'rejected', error: reason, finishedAt: now, durationMs: 0 });
  }
}

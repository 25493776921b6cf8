import type { Agent } from './model.js';
import { parseSelector, select, type Selectable } from './selector.js';

/**
 * What a job's selector picks from. Agents are targets of themselves; with the `ssh` executor, the targets are the
 * ssh hosts agents offer (`agent run --ssh-host NAME=…`): named NAME, with the labels of their agent plus
 * `via=AGENT`, run by that agent. Pure.
 */
export interface Target extends Selectable {
  /** The agent that runs it, when the target is not an agent. */
  via?: { id: string; name: string };
}

export class TargetError extends Error {
  override name = 'TargetError';
  constructor(
    readonly kind: 'no_match' | 'ambiguous',
    message: string,
  ) {
    super(message);
  }
}

/** The agent that runs a run: its `via`, else its target agent. */
export const runnerOf = (run: { agent: { id: string; name: string }; via?: { id: string; name: string } }) =>
  run.via ?? run.agent;

const viaOf = (agent: Agent) => ({ id: agent.id, name: agent.name });

/** Every ssh host every agent offers, as a target. */
export function sshHostTargets(agents: readonly Agent[]): Target[] {
  return agents.flatMap((agent) =>
    (agent.info?.sshHosts ?? []).map((host) => ({
      id: `${agent.id}/${host}`,
      name: host,
      labels: { ...agent.labels, via: agent.name },
      via: viaOf(agent),
    })),
  );
}

/**
 * The targets a job's selector chooses among. With `sshTarget`, the one target is that destination, reached through
 * the single agent `via` selects. Throws TargetError, or SelectorError for a bad `via`.
 */
export function candidateTargets(
  spec: { executor: string; sshTarget?: string; via?: string[] },
  agents: readonly Agent[],
): Target[] {
  if (spec.executor !== 'ssh') return [...agents];
  if (spec.sshTarget === undefined) return sshHostTargets(agents);
  const via = spec.via ?? [];
  const runners = select(parseSelector(via), agents);
  const what = via.map((v) => `--via '${v}'`).join(' ');
  if (runners.length === 0) throw new TargetError('no_match', `no agent matched ${what}`);
  const [runner] = runners;
  if (runners.length > 1 || !runner) {
    throw new TargetError('ambiguous', `${what} matched ${runners.length} agents; it must name one`);
  }
  return [{ id: `${runner.id}/${spec.sshTarget}`, name: spec.sshTarget, labels: {}, via: viaOf(runner) }];
}

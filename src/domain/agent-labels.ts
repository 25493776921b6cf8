import { ROUTING_FACTS, type Agent, type AgentInfo, type PendingChange, type RoutingFacts } from './model.js';

/**
 * Which labels and facts route jobs to an agent (docs/architecture.md §7.8): the admin's (its join token's, `ogent agents label`)
 * win; what the agent reports is pinned at its first registration, and a later change is held as `pending` until an
 * admin accepts it. So a stolen agent credential cannot claim `role=db` or `hostname=db-1`. Pure.
 */

type Labels = Record<string, string>;

const sameLabels = (a: Labels, b: Labels) =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);

/** Arrays compared as sets: an agent restarted with the same `--ssh-host`s in another order changed nothing. */
const factKey = (value: unknown) =>
  JSON.stringify(Array.isArray(value) ? [...(value as string[])].sort() : (value ?? null));

/** The agent's own labels as pinned (older stores kept only `labels`, which were the reported ones). */
export const reportedLabelsOf = (agent: Agent): Labels => agent.reportedLabels ?? agent.labels;

const effective = (reported: Labels, admin: Labels): Labels => ({ ...reported, ...admin });

function changedFacts(pinned: AgentInfo, reported: AgentInfo): RoutingFacts | undefined {
  const changed: Record<string, unknown> = {};
  for (const fact of ROUTING_FACTS) {
    if (factKey(pinned[fact]) !== factKey(reported[fact])) changed[fact] = reported[fact] ?? null;
  }
  return Object.keys(changed).length ? (changed as RoutingFacts) : undefined;
}

/** `info` with these routing facts (null: not reported). */
function withFacts(info: AgentInfo, facts: RoutingFacts): AgentInfo {
  const out: Record<string, unknown> = { ...info };
  for (const [fact, value] of Object.entries(facts)) {
    if (value === null || value === undefined) delete out[fact];
    else out[fact] = value;
  }
  return out as unknown as AgentInfo;
}

const pinnedFacts = (info: AgentInfo): RoutingFacts =>
  Object.fromEntries(ROUTING_FACTS.map((fact) => [fact, info[fact] ?? null])) as RoutingFacts;

/** The record with its labels recomputed and `pending` set, or left out when there is none. */
function settled(agent: Agent, reported: Labels, admin: Labels, pending: PendingChange | undefined): Agent {
  const rest: Agent = { ...agent };
  delete rest.pending;
  return {
    ...rest,
    labels: effective(reported, admin),
    reportedLabels: reported,
    adminLabels: admin,
    ...(pending ? { pending } : {}),
  };
}

export interface Registration {
  agent: Agent;
  /** What the agent reported differently and is held (`labels`, fact names); empty when nothing is. */
  held: string[];
}

/**
 * An agent sent `agent_info` (on connect, or again on the same connection). The first registration of a name pins
 * its labels and facts; later, what differs is recorded as pending and the pinned ones stay. `id` names a new record.
 */
export function register(existing: Agent | undefined, info: AgentInfo, id: string, now: string): Registration {
  const admin = existing?.adminLabels ?? {};
  const base: Agent = { ...(existing ?? { id, name: info.name, labels: {} }), status: 'online', lastSeen: now, info };
  if (!existing?.info) return { agent: settled(base, info.labels, admin, undefined), held: [] };
  const pinned = reportedLabelsOf(existing);
  const labelsChanged = !sameLabels(pinned, info.labels);
  const facts = changedFacts(existing.info, info);
  const held = [...(labelsChanged ? ['labels'] : []), ...Object.keys(facts ?? {})];
  const pending: PendingChange | undefined = held.length
    ? {
        ...(labelsChanged ? { labels: info.labels } : {}),
        ...(facts ? { facts } : {}),
        since: existing.pending?.since ?? now,
      }
    : undefined;
  const agent = { ...base, info: withFacts(info, pinnedFacts(existing.info)) };
  return { agent: settled(agent, pinned, admin, pending), held };
}

/** An admin accepted the held change: it is pinned and routes. Undefined when nothing is pending. */
export function accept(agent: Agent): Agent | undefined {
  const pending = agent.pending;
  if (!pending) return undefined;
  const info = agent.info && pending.facts ? withFacts(agent.info, pending.facts) : agent.info;
  return settled({ ...agent, info }, pending.labels ?? reportedLabelsOf(agent), agent.adminLabels ?? {}, undefined);
}

/**
 * `ogent agents label`: sets admin labels and removes labels by key, the agent's own included (an agent that still
 * reports a removed one shows it as a pending change).
 */
export function relabel(agent: Agent, set: Labels, remove: readonly string[]): Agent {
  const admin = { ...(agent.adminLabels ?? {}) };
  const reported = { ...reportedLabelsOf(agent) };
  for (const key of remove) {
    delete admin[key];
    delete reported[key];
  }
  return settled(agent, reported, { ...admin, ...set }, agent.pending);
}

/**
 * A host enrolled with a join token under `name`: a fresh record whose first registration pins what the agent
 * reports, under its token's labels. An older record of that name keeps its id (its runs), nothing else.
 */
export function enrolled(existing: Agent | undefined, name: string, labels: Labels, id: string): Agent {
  const fresh: Agent = { id: existing?.id ?? id, name, status: 'offline', labels: {}, info: null, lastSeen: null };
  return settled({ ...fresh, lastSeen: existing?.lastSeen ?? null }, {}, labels, undefined);
}

import { randomUUID } from 'node:crypto';
import { accept, enrolled, register, relabel, type Registration } from '../../domain/agent-labels.js';
import type { Agent, AgentInfo } from '../../domain/model.js';
import { LIMITS } from '../../protocol/events.js';
import { badRequest, conflict, notFound } from './errors.js';
import type { AgentRepository } from './ports.js';

function bounded(agent: Agent): Agent {
  if (Object.keys(agent.adminLabels ?? {}).length <= LIMITS.labels) return agent;
  throw badRequest(`an agent has at most ${LIMITS.labels} labels set by an admin: remove some first (key-)`);
}

/** The agent registry: who exists, who is online, what each said about itself, and the labels that route to it. */
export class AgentService {
  constructor(private readonly agents: AgentRepository) {}

  /** At start-up no agent is connected yet. */
  async markAllOffline(): Promise<void> {
    // All at once: the store coalesces them into one write (one at a time was a write per agent at start-up).
    const online = (await this.agents.list()).filter((agent) => agent.status === 'online');
    await Promise.all(online.map((agent) => this.agents.put({ ...agent, status: 'offline' })));
  }

  /**
   * An agent connected (or re-sent its facts): its record, online. Labels and routing facts that differ from the
   * pinned ones are held (`held`), not taken (docs/architecture.md §7.8).
   */
  async online(name: string, info: AgentInfo): Promise<Registration> {
    let held: string[] = [];
    const agent = await this.agents.update(name, (existing) => {
      const registration = register(existing, info, randomUUID(), new Date().toISOString());
      held = registration.held;
      return registration.agent;
    });
    return { agent: agent as Agent, held };
  }

  async offline(name: string): Promise<Agent | undefined> {
    return this.agents.update(
      name,
      (agent) => agent && { ...agent, status: 'offline', lastSeen: new Date().toISOString() },
    );
  }

  /** A host enrolled with a join token: its record starts afresh, under the token's labels. */
  async enrolled(name: string, labels: Record<string, string>): Promise<void> {
    await this.agents.update(name, (existing) =>
      existing || Object.keys(labels).length ? enrolled(existing, name, labels, randomUUID()) : undefined,
    );
  }

  /** Throws the 400 `label` would for this change (checked before the change is audited). */
  checkLabel(agent: Agent, set: Record<string, string>, remove: readonly string[]): void {
    bounded(relabel(agent, set, remove));
  }

  /** `ogent agents label` (admin): set labels win over the agent's own; removed ones go, whoever set them. */
  async label(idOrName: string, set: Record<string, string>, remove: readonly string[]): Promise<Agent> {
    const { name } = await this.find(idOrName);
    const agent = await this.agents.update(name, (current) => current && bounded(relabel(current, set, remove)));
    if (!agent) throw notFound(`no agent "${idOrName}"`);
    return agent;
  }

  /** `ogent agents accept` (admin): the agent's held labels and facts are pinned and route. */
  async accept(idOrName: string): Promise<Agent> {
    const { name } = await this.find(idOrName);
    let nothing = false;
    const agent = await this.agents.update(name, (current) => {
      const accepted = current && accept(current);
      nothing = current !== undefined && accepted === undefined;
      return accepted;
    });
    if (nothing) throw conflict(`agent "${name}" has no pending change to accept`);
    if (!agent) throw notFound(`no agent "${idOrName}"`);
    return agent;
  }

  list(): Promise<Agent[]> {
    return this.agents.list();
  }

  /** By id or name. */
  async find(idOrName: string): Promise<Agent> {
    const agent = (await this.agents.get(idOrName)) ?? (await this.agents.getByName(idOrName));
    if (!agent) throw notFound(`no agent "${idOrName}"`);
    return agent;
  }

  async remove(idOrName: string): Promise<Agent> {
    const agent = await this.find(idOrName);
    await this.agents.remove(agent.id);
    return agent;
  }
}

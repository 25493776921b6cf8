import { randomUUID } from 'node:crypto';
import type { Agent, AgentInfo } from '../../domain/model.js';
import { notFound } from './errors.js';
import type { AgentRepository } from './ports.js';

/** The agent registry: who exists, who is online, what each said about itself. */
export class AgentService {
  constructor(private readonly agents: AgentRepository) {}

  /** At start-up no agent is connected yet. */
  async markAllOffline(): Promise<void> {
    // All at once: the store coalesces them into one write (one at a time was a write per agent at start-up).
    const online = (await this.agents.list()).filter((agent) => agent.status === 'online');
    await Promise.all(online.map((agent) => this.agents.put({ ...agent, status: 'offline' })));
  }

  /** An agent connected (or re-sent its facts): create or update its record, online. */
  async online(name: string, info: AgentInfo | null): Promise<Agent> {
    const existing = await this.agents.getByName(name);
    const agent: Agent = {
      id: existing?.id ?? randomUUID(),
      name,
      status: 'online',
      labels: info?.labels ?? existing?.labels ?? {},
      info: info ?? existing?.info ?? null,
      lastSeen: new Date().toISOString(),
    };
    await this.agents.put(agent);
    return agent;
  }

  async offline(name: string): Promise<Agent | undefined> {
    const agent = await this.agents.getByName(name);
    if (!agent) return undefined;
    const updated: Agent = { ...agent, status: 'offline', lastSeen: new Date().toISOString() };
    await this.agents.put(updated);
    return updated;
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

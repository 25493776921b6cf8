import type { Redis } from 'ioredis';
import type { Agent } from '../../../domain/model.js';
import type { AgentRepository } from '../../application/ports.js';
import { failed, parseJson } from './redis-json.js';

const UPDATE_ATTEMPTS = 50;
/**
 * Replaces agent ARGV[1] (named ARGV[2]) with ARGV[4] if its stored document is still ARGV[3] ('' for none, and
 * then the name must be free too); 1 when written, 0 when another write came first.
 */
const REPLACE_AGENT = `
local current = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if current ~= ARGV[3] then return 0 end
local owner = redis.call('HGET', KEYS[2], ARGV[2])
if ARGV[3] == '' and owner then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
return 1`;

export class RedisAgents implements AgentRepository {
  constructor(
    private readonly redis: Redis,
    private readonly key: string,
  ) {}
  private get byName() {
    return `${this.key}:byname`;
  }
  async get(id: string) {
    return parseJson<Agent>(await this.redis.hget(this.key, id));
  }
  async getByName(name: string) {
    const id = await this.redis.hget(this.byName, name);
    return id ? this.get(id) : undefined;
  }
  async list() {
    const all = await this.redis.hvals(this.key);
    return all.map((v) => JSON.parse(v) as Agent).sort((a, b) => a.name.localeCompare(b.name));
  }
  async put(agent: Agent) {
    await this.redis
      .multi()
      .hset(this.key, agent.id, JSON.stringify(agent))
      .hset(this.byName, agent.name, agent.id)
      .exec()
      .then(failed);
  }
  async update(name: string, change: (agent: Agent | undefined) => Agent | undefined) {
    // Optimistic: written only if the document is still the one read (a Lua script runs atomically), else again.
    for (let attempt = 0; attempt < UPDATE_ATTEMPTS; attempt++) {
      const id = await this.redis.hget(this.byName, name);
      const raw = id ? await this.redis.hget(this.key, id) : null;
      const existing = parseJson<Agent>(raw);
      const changed = change(existing);
      if (!changed) return existing;
      const written = await this.redis.eval(
        REPLACE_AGENT,
        2,
        this.key,
        this.byName,
        changed.id,
        name,
        raw ?? '',
        JSON.stringify(changed),
      );
      if (written === 1) return changed;
    }
    throw new Error(`agent ${name} kept changing: not updated after ${UPDATE_ATTEMPTS} attempts`);
  }
  async remove(id: string) {
    const agent = await this.get(id);
    if (!agent) return false;
    await this.redis.multi().hdel(this.key, id).hdel(this.byName, agent.name).exec().then(failed);
    return true;
  }
}

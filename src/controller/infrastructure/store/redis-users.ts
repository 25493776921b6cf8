import type { Redis } from 'ioredis';
import type { User } from '../../../domain/model.js';
import type { UserRepository } from '../../application/ports.js';
import { parseJson } from './redis-json.js';

export class RedisUsers implements UserRepository {
  constructor(
    private readonly redis: Redis,
    private readonly key: string,
  ) {}
  async get(name: string) {
    return parseJson<User>(await this.redis.hget(this.key, name));
  }
  async list() {
    const all = await this.redis.hvals(this.key);
    return all.map((v) => JSON.parse(v) as User).sort((a, b) => a.name.localeCompare(b.name));
  }
  async put(user: User) {
    await this.redis.hset(this.key, user.name, JSON.stringify(user));
  }
  async create(user: User) {
    return (await this.redis.hsetnx(this.key, user.name, JSON.stringify(user))) === 1;
  }
  async remove(name: string) {
    return (await this.redis.hdel(this.key, name)) > 0;
  }
}

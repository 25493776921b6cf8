import { createAdapter } from '@socket.io/redis-adapter';
import type { Redis } from 'ioredis';
import type { Logger } from '../../../lib/log.js';
import { closeClient, openRedisStore, type RedisStore } from '../store/redis-store.js';
import { RedisCluster } from './redis-cluster.js';
import { RedisLoginCounters } from './redis-login-counters.js';

/**
 * Everything `controller serve --redis` adds (loaded only then): the Redis store, the Socket.IO Redis adapter
 * (events to rooms reach sockets on every controller), the cluster coordination and the login counters.
 */
export async function openScaleOut(url: string, prefix: string | undefined, log: Logger) {
  const store: RedisStore = await openRedisStore(url, { prefix, log });
  // The adapter's own connections queue while Redis is away (it publishes without waiting for an answer).
  const pub = store.redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
  const sub = store.redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
  pub.on('error', () => {});
  sub.on('error', () => {});
  unawaited(pub, ['publish']);
  unawaited(sub, ['unsubscribe', 'punsubscribe']);
  const adapter = createAdapter(pub, sub, { key: `${store.prefix}socket.io` });
  const cluster = new RedisCluster(store.redis, store.prefix, log);
  return {
    store,
    adapter,
    cluster,
    loginCounters: new RedisLoginCounters(store.redis, store.prefix),
    async close() {
      await cluster.stop();
      await Promise.all([closeClient(pub), closeClient(sub)]);
    },
  };
}

/**
 * The adapter sends these commands without waiting for their answers: `publish` for every broadcast, and
 * `(p)unsubscribe` as each namespace closes, just before the connection is closed. A command the connection closes
 * under is rejected ("Connection is closed."), and unhandled that rejection ended the process: a controller with
 * `--redis` exited 1 on SIGTERM instead of 0. Each such promise gets a handler; a caller that awaits it still sees
 * the rejection.
 */
function unawaited(client: Redis, names: Array<'publish' | 'unsubscribe' | 'punsubscribe'>): void {
  for (const name of names) {
    const command = (client[name] as (...args: unknown[]) => Promise<unknown>).bind(client);
    Object.assign(client, {
      [name]: (...args: unknown[]) => {
        const sent = command(...args);
        sent.catch(() => {});
        return sent;
      },
    });
  }
}

import { createAdapter } from '@socket.io/redis-adapter';
import type { Logger } from '../../../lib/log.js';
import { closeClient, openRedisStore, type RedisStore } from '../store/redis-store.js';
import { RedisCluster } from './redis-cluster.js';

/**
 * Everything `controller serve --redis` adds (loaded only then): the Redis store, the Socket.IO Redis adapter
 * (events to rooms reach sockets on every controller) and the cluster coordination.
 */
export async function openScaleOut(url: string, prefix: string | undefined, log: Logger) {
  const store: RedisStore = await openRedisStore(url, { prefix });
  // The adapter's own connections queue while Redis is away (it publishes without waiting for an answer).
  const pub = store.redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
  const sub = store.redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
  pub.on('error', () => {});
  sub.on('error', () => {});
  const adapter = createAdapter(pub, sub, { key: `${store.prefix}socket.io` });
  const cluster = new RedisCluster(store.redis, store.prefix, log);
  return {
    store,
    adapter,
    cluster,
    async close() {
      await cluster.stop();
      await Promise.all([closeClient(pub), closeClient(sub)]);
    },
  };
}

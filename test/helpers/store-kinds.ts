import { randomBytes } from 'node:crypto';
import type { Store } from '../../src/controller/application/ports.js';
import type { ControllerOptions } from '../../src/controller/index.js';
import { openLowdbStore } from '../../src/controller/infrastructure/store/lowdb-store.js';
import { openRedisStore } from '../../src/controller/infrastructure/store/redis-store.js';
import type { Fixtures } from './fixtures.js';
import { RedisServer } from './redis.js';

/** Where a controller keeps its store: a data dir, or a prefix on a real redis-server started for the suite. */
export interface StoreKind {
  name: 'lowdb' | 'redis';
  /** Options that point a controller at the same store each time. */
  place(fx: Fixtures): Promise<Partial<ControllerOptions>>;
  open(place: Partial<ControllerOptions>): Promise<Store>;
  /** For the suite's `before` and `after`: the redis-server of the Redis kind. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Both kinds, for a suite that must hold on lowdb and Redis alike. */
export function storeKinds(): StoreKind[] {
  let server: RedisServer | undefined;
  return [
    {
      name: 'lowdb',
      place: async (fx) => ({ dataDir: await fx.tempDir() }),
      open: (place) => openLowdbStore(place.dataDir as string),
      start: async () => {},
      stop: async () => {},
    },
    {
      name: 'redis',
      place: async () => ({ redis: (server as RedisServer).url, redisPrefix: `p${randomBytes(4).toString('hex')}:` }),
      open: (place) => openRedisStore(place.redis as string, { prefix: place.redisPrefix }),
      start: async () => {
        server ??= await RedisServer.start();
      },
      stop: async () => {
        await server?.stop();
        server = undefined;
      },
    },
  ];
}

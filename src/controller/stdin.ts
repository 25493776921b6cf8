import { join } from 'node:path';
import type { Server } from 'socket.io';
import type { Logger } from '../lib/log.js';
import { NAMESPACE } from '../protocol/events.js';
import type { JobService } from './application/job-service.js';
import type { StdinStore } from './application/ports.js';
import { StdinService } from './application/stdin-service.js';
import type { RedisStore } from './infrastructure/store/redis-store.js';
import { serveStdinReads, serveStdinUploads } from './infrastructure/socket/stdin-events.js';

export type { StdinStore };

export interface StdinOptions {
  dataDir: string;
  log: Logger;
  /** How long an upload of stdin cut before its end may be resumed before the runs reading it fail (default 30 s). */
  stdinResumeMs?: number;
}

/**
 * Jobs' piped stdin (docs/architecture.md §3.9): kept in the data dir, or in the cluster's Redis; `stdin_data` and
 * `stdin_end` served on `/clients`, `stdin_read` on `/agents`. Returns the store, for the job service.
 */
export async function startStdin(
  io: Server,
  options: StdinOptions,
  scaleOut: { store: RedisStore } | undefined,
  jobs: () => JobService,
): Promise<StdinStore> {
  const store = scaleOut ? await redisStdin(scaleOut.store) : await fileStdin(options.dataDir);
  const service = new StdinService(store, jobs, options.log, {
    resumeMs: options.stdinResumeMs ?? 30_000,
    holdMs: 10_000,
    // Bytes may come through another controller: a held read looks at Redis this often.
    ...(scaleOut ? { pollMs: 50 } : {}),
  });
  serveStdinUploads(io.of(NAMESPACE.clients), service, options.log);
  serveStdinReads(io.of(NAMESPACE.agents), service);
  // Shutdown: held reads are answered, no upload is waited for.
  io.httpServer.once('close', () => service.stop());
  return store;
}

async function fileStdin(dataDir: string): Promise<StdinStore> {
  const { FileStdin } = await import('./infrastructure/store/stdin-files.js');
  return new FileStdin(join(dataDir, 'stdin'));
}

async function redisStdin(redis: RedisStore): Promise<StdinStore> {
  const { RedisStdin } = await import('./infrastructure/store/redis-stdin.js');
  return new RedisStdin(redis.redis, redis.prefix);
}

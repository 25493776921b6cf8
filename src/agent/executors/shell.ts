import { spawnCommand, type Spawned } from '../../lib/process.js';

export interface ExecutorRequest {
  command: string;
  env?: Record<string, string>;
  cwd?: string;
}
export type Executor = (request: ExecutorRequest) => Spawned;

/** `shell`: `/bin/sh -c COMMAND` (or $OGENT_SHELL), in its own process group so a timeout or cancel kills the tree. */
export const shellExecutor: Executor = (request) =>
  spawnCommand(process.env.OGENT_SHELL || '/bin/sh', ['-c', request.command], {
    env: request.env ? ({ ...process.env, ...request.env } as Record<string, string>) : undefined,
    cwd: request.cwd,
  });

export const EXECUTORS: Record<string, Executor> = { shell: shellExecutor };

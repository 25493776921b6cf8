import { spawnCommand } from '../../lib/process.js';
import { withEnv, type Executor } from './executor.js';

/** `shell`: `/bin/sh -c COMMAND` (or $OGENT_SHELL), in its own process group so a timeout or cancel kills the tree. */
export const shellExecutor: Executor = {
  start: (request) =>
    spawnCommand(process.env.OGENT_SHELL || '/bin/sh', ['-c', request.command], {
      env: withEnv(request.env),
      cwd: request.cwd,
    }),
};

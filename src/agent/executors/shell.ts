import { spawnCommand, type RunAsUser } from '../../lib/process.js';
import { spawnOptions, type Executor } from './executor.js';

/** `shell`: `/bin/sh -c COMMAND` (or $OGENT_SHELL), in its own process group so a timeout or cancel kills the tree. */
export const shellExecutor = (runAs?: RunAsUser): Executor => ({
  start: (request) =>
    spawnCommand(process.env.OGENT_SHELL || '/bin/sh', ['-c', request.command], spawnOptions(request, runAs)),
});

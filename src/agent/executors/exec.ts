import { spawnCommand, type RunAsUser } from '../../lib/process.js';
import { spawnOptions, type Executor } from './executor.js';

/** `exec`: argv[0] found on PATH and run with argv[1..] as they are; no shell, so nothing is expanded. */
export const execExecutor = (runAs?: RunAsUser): Executor => ({
  refuse: (request) => (request.args?.[0] ? undefined : 'the exec executor needs args: the program and its arguments'),
  start: (request) => {
    const [file = '', ...args] = request.args ?? [];
    return spawnCommand(file, args, spawnOptions(request, runAs));
  },
});

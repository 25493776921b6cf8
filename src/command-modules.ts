import { Command, type Interfaces } from '@oclif/core';

/** A command's module; its default export is the command class. */
type CommandModule = () => Promise<{ default: Command.Class }>;

/**
 * Every command, listed by hand (oclif's explicit strategy, so the CLI can be bundled into one file), each as the
 * import of its module: a command's code is loaded when it runs, not when any command runs. `ogent jobs list` has no
 * use for the agent, the controller's service installer or the TUI's modules.
 */
export const COMMAND_MODULES: Record<string, CommandModule> = {
  'agent:run': () => import('./commands/agent/run.js'),
  'agent:service:install': () => import('./commands/agent/service/install.js'),
  agents: () => import('./commands/agents/index.js'),
  'agents:accept': () => import('./commands/agents/accept.js'),
  'agents:enroll-token': () => import('./commands/agents/enroll-token.js'),
  'agents:enroll-token:list': () => import('./commands/agents/enroll-token/list.js'),
  'agents:enroll-token:revoke': () => import('./commands/agents/enroll-token/revoke.js'),
  'agents:label': () => import('./commands/agents/label.js'),
  'agents:remove': () => import('./commands/agents/remove.js'),
  'agents:show': () => import('./commands/agents/show.js'),
  audit: () => import('./commands/audit.js'),
  'controller:backup': () => import('./commands/controller/backup.js'),
  'controller:ca': () => import('./commands/controller/ca.js'),
  'controller:restore': () => import('./commands/controller/restore.js'),
  'controller:serve': () => import('./commands/controller/serve.js'),
  'controller:service:install': () => import('./commands/controller/service/install.js'),
  doctor: () => import('./commands/doctor.js'),
  exec: () => import('./commands/exec.js'),
  help: () => import('./commands/help.js'),
  'jobs:cancel': () => import('./commands/jobs/cancel.js'),
  'jobs:list': () => import('./commands/jobs/list.js'),
  'jobs:prune': () => import('./commands/jobs/prune.js'),
  'jobs:logs': () => import('./commands/jobs/logs.js'),
  'jobs:rerun': () => import('./commands/jobs/rerun.js'),
  'jobs:show': () => import('./commands/jobs/show.js'),
  'jobs:wait': () => import('./commands/jobs/wait.js'),
  login: () => import('./commands/login.js'),
  logout: () => import('./commands/logout.js'),
  'users:add': () => import('./commands/users/add.js'),
  'users:list': () => import('./commands/users/list.js'),
  'users:passwd': () => import('./commands/users/passwd.js'),
  'users:remove': () => import('./commands/users/remove.js'),
  version: () => import('./commands/version.js'),
};

let loaded: Promise<Record<string, Command.Class>> | undefined;

/** Every command class, imported (the single executable's bundle, and oclif when it has no manifest to read). */
export function loadCommands(): Promise<Record<string, Command.Class>> {
  loaded ??= Promise.all(
    Object.entries(COMMAND_MODULES).map(async ([id, load]) => [id, (await load()).default] as const),
  ).then(Object.fromEntries);
  return loaded;
}

/**
 * A stand-in for a command class, for oclif's command table: oclif reads a command's flags, arguments and help from
 * oclif.manifest.json and only calls `run` on the class, which here imports the real command and runs it.
 */
export function lazyCommand(load: CommandModule): Command.Class {
  class LazyCommand extends Command {
    run(): Promise<unknown> {
      throw new Error('a stand-in command is never instantiated');
    }
  }
  const stand = LazyCommand as unknown as Command.Class;
  return Object.assign(stand, {
    async run(argv?: string[], opts?: Interfaces.LoadOptions): Promise<unknown> {
      const real = (await load()).default;
      // What oclif set on the class it found (the id names the command in errors and debug output).
      real.id = stand.id;
      real.plugin = stand.plugin;
      return real.run(argv, opts);
    },
  });
}

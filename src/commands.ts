import { existsSync } from 'node:fs';
import { COMMAND_MODULES, lazyCommand, loadCommands } from './command-modules.js';

/**
 * oclif's command table (package.json `oclif.commands`): a stand-in per command that imports the command when it
 * runs, since oclif reads every command's flags, arguments and help from oclif.manifest.json. The real classes when
 * the manifest is being written (`npm run build` sets OGENT_LOAD_COMMANDS=1) or is missing.
 */
export const COMMANDS =
  process.env.OGENT_LOAD_COMMANDS === '1' || !existsSync(new URL('../oclif.manifest.json', import.meta.url))
    ? await loadCommands()
    : Object.fromEntries(Object.entries(COMMAND_MODULES).map(([id, load]) => [id, lazyCommand(load)]));

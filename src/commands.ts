import { readFileSync } from 'node:fs';
import { COMMAND_MODULES, lazyCommand, loadCommands } from './command-modules.js';
import { VERSION } from './lib/version.js';

/**
 * Whether oclif will read flags, arguments and help from oclif.manifest.json: it exists (`oclif manifest`, run by
 * `npm run build`, deletes it before it reads the commands) and is of this version (oclif ignores one that is not).
 */
function manifestInUse(): boolean {
  try {
    const manifest = JSON.parse(readFileSync(new URL('../oclif.manifest.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return manifest.version === VERSION;
  } catch {
    return false;
  }
}

/**
 * oclif's command table (package.json `oclif.commands`): a stand-in per command that imports the command when it
 * runs, since oclif reads everything else from the manifest. Without a manifest in use, the command classes.
 */
export const COMMANDS = manifestInUse()
  ? Object.fromEntries(Object.entries(COMMAND_MODULES).map(([id, load]) => [id, lazyCommand(load)]))
  : await loadCommands();

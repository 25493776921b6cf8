/**
 * The entry point of the single executable (bundled by scripts/package/bundle.ts into one CommonJS file, which Node's
 * SEA runs as its main script). Unlike bin/run.js it reads nothing from disk: no package.json, no oclif.manifest.json,
 * no node_modules — a SEA main script's `require` only loads built-in modules.
 */
import { ModuleLoader, Plugin } from '@oclif/core';
import { dirname } from 'node:path';
import { loadCommands } from '../../src/command-modules.js';
import Help from '../../src/help.js';
import { main } from '../../src/main.js';

/** package.json's name, version, type and oclif section, inlined at bundle time. */
declare const OGENT_PJSON: { name: string; version: string; oclif: Record<string, unknown> } & Record<string, unknown>;

interface PluginInternals {
  options: { isRoot?: boolean; ignoreManifest?: boolean };
  _manifest(): Promise<unknown>;
  loadCommandsFromTarget(): Promise<unknown>;
}

// oclif's explicit strategy imports `commands.target` by path; here the commands are already in this file (every
// command's module is in the bundle; loading them all costs little once they are).
// The manifest is built from them in memory (a stray oclif.manifest.json beside the binary is never read).
const plugin = Plugin.prototype as unknown as PluginInternals;
const manifest = plugin._manifest;
plugin._manifest = function (this: PluginInternals) {
  if (this.options.isRoot) this.options.ignoreManifest = true;
  return manifest.call(this);
};
plugin.loadCommandsFromTarget = loadCommands;

// oclif imports package.json's `helpClass` by path too; here it is in this file.
const loader = ModuleLoader as unknown as { load(config: unknown, path: string): Promise<unknown> };
const load = loader.load.bind(loader);
loader.load = (config, path) => (/[\\/]help\.js$/.test(path) ? Promise.resolve({ default: Help }) : load(config, path));

void main(process.argv.slice(2), {
  root: dirname(process.execPath),
  pjson: OGENT_PJSON as never,
  userPlugins: false,
  devPlugins: false,
});

import { Flags } from '@oclif/core';
import { resolve } from 'node:path';
import {
  DEFAULT_UNIT_DIR,
  flagArgs,
  installService,
  renderUnit,
  selfCommand,
  SERVICES,
  type ServiceKind,
} from '../lib/service.js';

/** The flags of `agent service install` and `controller service install` themselves (not passed to the service). */
export const serviceFlags = (kind: ServiceKind) => ({
  print: Flags.boolean({ summary: 'Print the unit on stdout and write nothing.' }),
  user: Flags.string({
    summary:
      kind === 'agent'
        ? 'Run the agent as this user (default: root, as the commands it runs usually need).'
        : 'Run the controller as this existing user (default: a dynamic user systemd creates).',
    helpValue: 'USER',
  }),
  executable: Flags.string({
    summary: 'The ogent executable the service starts (default: the one running now).',
    helpValue: 'PATH',
  }),
  'unit-dir': Flags.string({ summary: 'Where to write the unit.', default: DEFAULT_UNIT_DIR, helpValue: 'DIR' }),
  'environment-file': Flags.string({
    summary: 'The environment file (mode 0600) that holds the secrets (EnvironmentFile=).',
    default: SERVICES[kind].envFile,
    helpValue: 'FILE',
  }),
});

/** What both install commands do once their own checks are done: render the unit, print it or install it. */
export async function installFromFlags(options: {
  kind: ServiceKind;
  /** The passed-through flags of the command the service runs, and the values given. */
  runFlags: Parameters<typeof flagArgs>[0];
  flags: Record<string, unknown> & ServiceFlagValues;
  version: string;
  /** The secrets for the environment file, asked for only when the unit is installed. */
  secrets: () => Promise<Record<string, string>>;
}): Promise<void> {
  const { kind, flags } = options;
  const envFile = resolve(flags['environment-file']);
  const unit = renderUnit({
    kind,
    executable: flags.executable ? [resolve(flags.executable)] : selfCommand(),
    args: flagArgs(options.runFlags, flags),
    user: flags.user,
    envFile,
    version: options.version,
  });
  if (flags.print) {
    process.stdout.write(unit);
    return;
  }
  const secrets = await options.secrets();
  const done = await installService({ kind, unit, unitDir: resolve(flags['unit-dir']), envFile, secrets });
  if (done.envFileWritten)
    process.stdout.write(`wrote ${done.envFile} (${Object.keys(secrets).join(', ')}, mode 0600)\n`);
  process.stdout.write(`wrote ${done.unitPath}\nstart it: ${done.next}\n`);
}

interface ServiceFlagValues {
  print?: boolean;
  user?: string;
  executable?: string;
  'unit-dir': string;
  'environment-file': string;
}

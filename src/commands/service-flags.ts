import { Flags } from '@oclif/core';
import { DEFAULT_UNIT_DIR, SERVICES, type ServiceKind } from '../lib/service.js';

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

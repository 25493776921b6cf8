import { Flags } from '@oclif/core';
import { parseControllers } from '../../../client/http.js';
import { readPassword } from '../../../client/prompt.js';
import { usageError } from '../../../lib/errors.js';
import { hostLibc, libcProblem } from '../../../lib/libc.js';
import { checkPlainHttpUrl } from '../../../lib/plain-http.js';
import { passthroughFlags } from '../../../lib/service.js';
import { agentNameCheck } from '../../../protocol/events.js';
import { parse } from '../../../protocol/validate.js';
import { BaseCommand } from '../../base.js';
import { parseLabelWords } from '../../label-args.js';
import { installFromFlags, serviceFlags } from '../../service-flags.js';
import AgentRun from '../run.js';

// The join token is a secret: it goes to the environment file (0600), never into the unit's command line (0644).
const { 'join-token': joinTokenFlag, ...agentRunFlags } = AgentRun.flags;
const runFlags = passthroughFlags(agentRunFlags, 'AGENT RUN');

export default class AgentServiceInstall extends BaseCommand {
  static override summary = 'Install the agent as a systemd service (ogent-agent.service).';
  static override description =
    'Writes /etc/systemd/system/ogent-agent.service, which starts `ogent agent run` with the agent run flags given ' +
    'here, as root unless --user, restarted on failure, with its spool in /var/lib/ogent-agent; and ' +
    '/etc/ogent/agent.env (mode 0600) with OGENT_PASSWORD (from the environment or --password-stdin) or ' +
    'OGENT_JOIN_TOKEN (--join-token). ' +
    'Then: systemctl daemon-reload && systemctl enable --now ogent-agent.';
  static override examples = [
    {
      description: 'See the unit, write nothing',
      command:
        '<%= config.bin %> agent service install --print --controller https://ctl:8600 --name web-1 --label role=web',
    },
    {
      description: 'Install it with a join token (the agent enrolls at its first start)',
      command:
        'sudo <%= config.bin %> agent service install --controller https://ctl:8600 --ca /etc/ogent/ca.pem --join-token ogj_... --name web-7',
    },
    {
      description: 'Install it, with the password of the agent user web-1 on standard input',
      command:
        'printf %s "$PW" | sudo <%= config.bin %> agent service install --password-stdin --controller https://ctl:8600 --name web-1',
    },
    {
      description: 'Then start it',
      command: 'sudo systemctl daemon-reload && sudo systemctl enable --now ogent-agent',
    },
  ];
  static override flags = {
    ...runFlags,
    ...serviceFlags('agent'),
    'password-stdin': Flags.boolean({ summary: "Read the agent user's password from standard input." }),
    'join-token': {
      ...joinTokenFlag,
      summary: 'Enroll with this join token at first start (kept in the environment file).',
    },
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(AgentServiceInstall);
    // The agent would refuse it at every start: said now, with nothing written.
    for (const url of flags.controller ? parseControllers(flags.controller) : []) {
      checkPlainHttpUrl(url, flags['insecure-http']);
    }
    if (flags.name !== undefined) {
      try {
        parse(agentNameCheck, flags.name);
      } catch {
        throw usageError(`invalid agent name "${flags.name}": letters, digits, . _ - (max 63)`);
      }
    }
    parseLabelWords(flags.label ?? [], '--label'); // the agent would refuse them at every start: said now
    if (!flags.print) {
      const problem = libcProblem(await hostLibc());
      if (problem) {
        throw usageError(
          `cannot install the agent here: ${problem}`,
          'run it on RHEL 8+, Debian 10+, Ubuntu 20.04+ or Amazon Linux 2023 (README, Installing on a host)',
        );
      }
    }
    await installFromFlags({
      kind: 'agent',
      runFlags,
      flags,
      version: this.config.version,
      secrets: async (): Promise<Record<string, string>> => {
        const password = flags['password-stdin']
          ? await readPassword({ fromStdin: true, prompt: '' })
          : process.env.OGENT_PASSWORD || undefined;
        return {
          ...(password ? { OGENT_PASSWORD: password } : {}),
          ...(flags['join-token'] ? { OGENT_JOIN_TOKEN: flags['join-token'] } : {}),
        };
      },
    });
  }
}

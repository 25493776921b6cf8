import { Flags } from '@oclif/core';
import { defaultAgentName } from '../../agent/facts.js';
import { passwordTokens, startAgent } from '../../agent/index.js';
import { normalizeUrl } from '../../client/http.js';
import { DEFAULT_CONTROLLER } from '../../client/credentials.js';
import { authError, EXIT, UserError, usageError } from '../../lib/errors.js';
import { createLogger, LOG_LEVELS, type LogLevel } from '../../lib/log.js';
import { defaultStateDir } from '../../lib/paths.js';
import { agentNameCheck, labelsCheck } from '../../protocol/events.js';
import { parse } from '../../protocol/validate.js';
import { BaseCommand } from '../base.js';
import { waitForSignal } from '../controller/serve.js';

export default class AgentRun extends BaseCommand {
  static override summary = 'Run an agent: connect out to the controller and run what it sends.';
  static override description =
    'The agent logs in as an agent-role user whose name is the agent name (create one with ' +
    '`ogent users add NAME --role agent`); give its password in OGENT_PASSWORD.';
  static override examples = [
    {
      description: 'Connect as web-1 with two labels',
      command:
        'OGENT_PASSWORD=... <%= config.bin %> agent run --controller http://ctl:8600 --name web-1 --label role=web --label dc=par1',
    },
  ];
  static override flags = {
    controller: Flags.string({
      summary: 'Controller URL.',
      env: 'OGENT_CONTROLLER',
      default: DEFAULT_CONTROLLER,
      helpValue: 'URL',
    }),
    name: Flags.string({ summary: 'Agent name (default: the host name).', env: 'OGENT_AGENT_NAME' }),
    label: Flags.string({ multiple: true, summary: 'A label for selectors.', helpValue: 'KEY=VALUE' }),
    'state-dir': Flags.string({
      summary: 'Where the agent keeps its result spool.',
      env: 'OGENT_STATE_DIR',
      helpValue: 'DIR',
    }),
    'log-level': Flags.string({ summary: 'Log level.', options: LOG_LEVELS, default: 'info', env: 'OGENT_LOG_LEVEL' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(AgentRun);
    const name = flags.name ?? defaultAgentName();
    try {
      parse(agentNameCheck, name);
    } catch {
      throw usageError(
        `invalid agent name "${name}": letters, digits, . _ - (max 63), starting with a letter or digit`,
      );
    }
    const labels: Record<string, string> = {};
    for (const pair of flags.label ?? []) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw usageError(`invalid --label "${pair}": use key=value`);
      labels[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
    try {
      parse(labelsCheck, labels);
    } catch (err) {
      throw usageError(`invalid --label: ${(err as Error).message}`);
    }
    const username = process.env.OGENT_USERNAME || name;
    const password = process.env.OGENT_PASSWORD;
    if (!password)
      throw authError(
        'no agent password: set OGENT_PASSWORD',
        `create the agent user with \`ogent users add ${name} --role agent\``,
      );
    if (username !== name) throw usageError(`the agent user name (${username}) must be the agent name (${name})`);
    const controller = normalizeUrl(flags.controller);
    const log = createLogger(flags['log-level'] as LogLevel);
    const tokens = passwordTokens(controller, username, password);
    try {
      await tokens.get();
    } catch (err) {
      // Wrong credentials are fatal at start; an absent controller is waited for.
      if (!(err instanceof UserError) || err.exit !== EXIT.unreachable) throw err;
      log.warn('controller not reachable yet; retrying', { controller });
    }
    const agent = await startAgent({
      controller,
      name,
      labels,
      stateDir: flags['state-dir'] ?? defaultStateDir(),
      tokens,
      log,
    });
    log.info('agent starting', { name, controller });
    await waitForSignal();
    await agent.stop();
  }
}

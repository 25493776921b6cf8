import { Flags } from '@oclif/core';
import { defaultAgentName } from '../../agent/facts.js';
import { normalizeUrl } from '../../client/http.js';
import { DEFAULT_CONTROLLER } from '../../client/credentials.js';
import { authError, EXIT, StartupError, UserError, usageError } from '../../lib/errors.js';
import { createLogger, LOG_LEVELS, type LogLevel } from '../../lib/log.js';
import { defaultStateDir } from '../../lib/paths.js';
import { agentNameCheck, labelsCheck } from '../../protocol/events.js';
import { parseSshDestination } from '../../domain/job-spec.js';
import { parse } from '../../protocol/validate.js';
import { BaseCommand, parseDuration } from '../base.js';
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
      summary: 'Controller URL; several, comma-separated, for controllers sharing a Redis (the agent fails over).',
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
    'ssh-host': Flags.string({
      multiple: true,
      summary: 'An agentless host this agent reaches with the ssh executor; it is a target of its own, named NAME.',
      helpValue: 'NAME=[USER@]HOST[:PORT]',
    }),
    'ssh-config': Flags.string({
      summary: 'ssh_config file for the ssh executor, instead of ~/.ssh/config.',
      env: 'OGENT_SSH_CONFIG',
      helpValue: 'FILE',
    }),
    'shutdown-grace': Flags.string({
      summary: 'On SIGTERM/SIGINT, how long running commands may finish before they are cancelled.',
      default: '30s',
      env: 'OGENT_SHUTDOWN_GRACE',
      helpValue: 'DURATION',
    }),
    'metrics-port': Flags.integer({
      summary: 'Serve Prometheus metrics on this port (GET /metrics).',
      min: 0,
      max: 65535,
      env: 'OGENT_METRICS_PORT',
      helpValue: 'PORT',
    }),
    'metrics-host': Flags.string({
      summary: 'Address for --metrics-port.',
      default: '127.0.0.1',
      env: 'OGENT_METRICS_HOST',
      helpValue: 'ADDRESS',
    }),
    'log-level': Flags.string({ summary: 'Log level.', options: LOG_LEVELS, default: 'info', env: 'OGENT_LOG_LEVEL' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(AgentRun);
    const sshHosts = await parseSshHosts(flags['ssh-host'] ?? []);
    const graceMs = parseDuration(flags['shutdown-grace']);
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
    const controllers = flags.controller
      .split(',')
      .map((u) => u.trim())
      .filter(Boolean)
      .map((u) => normalizeUrl(u));
    if (controllers.length === 0) throw usageError('--controller is empty', 'pass a URL, or several: URL1,URL2');
    const controller = controllers.length === 1 ? (controllers[0] as string) : controllers;
    const log = createLogger(flags['log-level'] as LogLevel);
    // Loaded here: every other command (an `exec` in cron) would otherwise load the agent's modules too.
    const { passwordTokens, startAgent } = await import('../../agent/index.js');
    const tokens = passwordTokens(controller, username, password);
    try {
      await tokens.get();
    } catch (err) {
      // Wrong credentials are fatal at start; an absent controller is waited for.
      if (!(err instanceof UserError) || err.exit !== EXIT.unreachable) throw err;
      log.warn('controller not reachable yet; retrying', { controller });
    }
    let agent;
    try {
      agent = await startAgent({
        controller,
        name,
        labels,
        stateDir: flags['state-dir'] ?? defaultStateDir(),
        tokens,
        log,
        executors: { sshHosts, sshConfig: flags['ssh-config'] },
        metricsPort: flags['metrics-port'],
        metricsHost: flags['metrics-host'],
      });
    } catch (err) {
      if (err instanceof StartupError) throw new UserError(err.message, { code: 'ERR_STARTUP', exit: 1 });
      throw err;
    }
    log.info('agent starting', { name, controller, ...(agent.metricsUrl ? { metrics: agent.metricsUrl } : {}) });
    await waitForSignal();
    log.info('agent stopping: no new runs; running ones may finish', { graceMs });
    // A second signal cuts the grace short: running commands are cancelled now, their results still kept.
    const hurry = () => void agent.stop({ graceMs: 0 });
    process.once('SIGINT', hurry).once('SIGTERM', hurry);
    await agent.stop({ graceMs });
    process.off('SIGINT', hurry).off('SIGTERM', hurry);
    log.info('agent stopped');
  }
}

/** `--ssh-host NAME=[user@]host[:port]`, each NAME a valid agent name. */
async function parseSshHosts(pairs: string[]): Promise<Record<string, string>> {
  const hosts: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const name = pair.slice(0, Math.max(0, eq));
    const destination = pair.slice(eq + 1);
    try {
      parse(agentNameCheck, name);
    } catch {
      throw usageError(
        `invalid --ssh-host "${pair}": NAME must be letters, digits, . _ - (max 63)`,
        'db-1=admin@10.0.0.5',
      );
    }
    if (!parseSshDestination(destination)) {
      throw usageError(`invalid --ssh-host "${pair}": use NAME=[user@]host[:port]`, 'db-1=admin@10.0.0.5:2222');
    }
    hosts[name] = destination;
  }
  // Imported only here: the ssh executor's module loads execa, which every command would otherwise load too.
  if (pairs.length && !(await import('../../agent/executors/ssh.js')).findSsh()) {
    throw usageError('--ssh-host needs the OpenSSH client: no `ssh` found on PATH', 'install openssh-client');
  }
  return hosts;
}

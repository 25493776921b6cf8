import { Flags } from '@oclif/core';
import type { PolicyRules } from '../../agent/policy.js';
import { loadPolicy, lookUpRunAs } from '../policy-flags.js';
import { defaultAgentName } from '../../agent/facts.js';
import { credentialPath, enroll, readCredential, saveCredential } from '../../agent/credential.js';
import { fetchPinnedCa, readPinnedCa, savePinnedCa } from '../../agent/pinned-ca.js';
import { agentStateDir, lockStateDir } from '../../agent/state-dir.js';
import { parseControllers } from '../../client/http.js';
import { readCa } from '../../client/tls.js';
import { DEFAULT_CONTROLLER } from '../../client/credentials.js';
import { authError, EXIT, StartupError, UserError, usageError } from '../../lib/errors.js';
import { createLogger, LOG_LEVELS, type Logger, type LogLevel } from '../../lib/log.js';
import { checkPlainHttpUrl } from '../../lib/plain-http.js';
import { agentNameCheck } from '../../protocol/events.js';
import { parseJoinToken } from '../../protocol/join-token.js';
import { parseSshDestination } from '../../domain/job-spec.js';
import { parse } from '../../protocol/validate.js';
import { BaseCommand, connectionFlags, parseDuration, type FlagsOf } from '../base.js';
import { waitForSignal } from '../../lib/signals.js';
import { parseLabelWords } from '../label-args.js';

export default class AgentRun extends BaseCommand {
  static override summary = 'Run an agent: connect out to the controller and run what it sends.';
  static override description =
    'The agent logs in as an agent-role user whose name is the agent name. Either enroll it once with a join token ' +
    '(`ogent agents enroll-token`): its own credential is then kept in --state-dir (mode 0600) and used at every ' +
    'start; or create the user (`ogent users add NAME --role agent`) and give its password in OGENT_PASSWORD.';
  static override examples = [
    {
      description: 'Enroll once with a join token over HTTPS; later starts need no token',
      command:
        '<%= config.bin %> agent run --controller https://ctl:8600 --ca /etc/ogent/ca.pem --join-token ogj_... --name web-7',
    },
    {
      description: 'Connect as web-1 with two labels',
      command:
        'OGENT_PASSWORD=... <%= config.bin %> agent run --controller https://ctl:8600 --name web-1 --label role=web --label dc=par1',
    },
    {
      description: 'Plain HTTP to a controller on another host (a lab network): needs --insecure-http',
      command:
        'OGENT_PASSWORD=... <%= config.bin %> agent run --controller http://10.0.0.5:8600 --insecure-http --name web-1',
    },
    {
      description: 'A second agent on the same host: its own name, so its own state dir (or give it --state-dir)',
      command:
        'OGENT_PASSWORD=... <%= config.bin %> agent run --controller http://ctl:8600 --name web-1-canary --state-dir /var/lib/ogent-canary',
    },
    {
      description: 'Only systemctl and journalctl, never rm; commands run as the user deploy (the agent runs as root)',
      command:
        "<%= config.bin %> agent run --controller https://ctl:8600 --name web-1 --allow '^(systemctl|journalctl) ' --deny '\\brm\\b' --run-as deploy",
    },
  ];
  static override flags = {
    controller: Flags.string({
      summary: 'Controller URL; several, comma-separated, for controllers sharing a Redis (the agent fails over).',
      env: 'OGENT_CONTROLLER',
      default: DEFAULT_CONTROLLER,
      helpValue: 'URL',
    }),
    name: Flags.string({
      summary: 'Agent name (default: the enrolled name, else the host name).',
      env: 'OGENT_AGENT_NAME',
    }),
    ca: Flags.string({
      summary: 'Trust this CA certificate (PEM) for an https:// controller, besides the system CAs.',
      env: 'OGENT_CA',
      helpValue: 'FILE',
    }),
    'insecure-http': connectionFlags['insecure-http'],
    'join-token': Flags.string({
      summary: 'Enroll with this token (once): the credential it gets is saved in --state-dir and used from then on.',
      env: 'OGENT_JOIN_TOKEN',
      helpValue: 'TOKEN',
    }),
    label: Flags.string({ multiple: true, summary: 'A label for selectors.', helpValue: 'KEY=VALUE' }),
    'state-dir': Flags.string({
      summary:
        'Where the agent keeps its result spool and its enrolled credential (default: $XDG_STATE_HOME/ogent/agents/NAME); one agent at a time.',
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
    allow: Flags.string({
      multiple: true,
      summary: 'Run only commands that match one of these regular expressions (repeatable).',
      helpValue: 'REGEX',
    }),
    deny: Flags.string({
      multiple: true,
      summary: 'Refuse commands that match this regular expression (repeatable; wins over --allow).',
      helpValue: 'REGEX',
    }),
    policy: Flags.string({
      summary: 'A policy file: lines `allow REGEX` / `deny REGEX`, or JSON {"allow": [...], "deny": [...]}.',
      env: 'OGENT_POLICY',
      helpValue: 'FILE',
    }),
    'run-as': Flags.string({
      summary: 'Run every command as this user (its uid, gid, groups, HOME); the agent must run as root.',
      env: 'OGENT_RUN_AS',
      helpValue: 'USER',
    }),
    'log-level': Flags.string({ summary: 'Log level.', options: LOG_LEVELS, default: 'info', env: 'OGENT_LOG_LEVEL' }),
  };

  protected override sigpipeOnClosedOutput(): boolean {
    return false;
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(AgentRun);
    const sshHosts = await parseSshHosts(flags['ssh-host'] ?? []);
    const graceMs = parseDuration(flags['shutdown-grace']);
    const labels = parseLabelWords(flags.label ?? [], '--label').set;
    const policy = await loadPolicy(flags.allow ?? [], flags.deny ?? [], flags.policy);
    const runAs = flags['run-as'] === undefined ? undefined : await lookUpRunAs(flags['run-as']);
    const controllers = parseControllers(flags.controller);
    // Before the enrollment or the first login sends anything.
    for (const url of controllers) checkPlainHttpUrl(url, flags['insecure-http']);
    const ca = flags.ca ? await readCa(flags.ca) : undefined;
    const log = createLogger(flags['log-level'] as LogLevel);
    if (flags.name !== undefined) checkName(flags.name); // before it names a directory
    const passwordAgent = !flags['join-token'] && Boolean(process.env.OGENT_PASSWORD);
    const stateDir = await agentStateDir({ stateDir: flags['state-dir'], name: flags.name, passwordAgent, log });
    // Held from before the credential is read or enrolled until the agent has stopped.
    const lock = await lockStateDir(stateDir, log);
    try {
      await this.serve({ flags, stateDir, controllers, ca, log, labels, policy, runAs, sshHosts, graceMs });
    } catch (err) {
      // Refused for its version (enrolling, logging in or connecting): exit 1, not a client's 4.
      if (err instanceof UserError && err.code === 'ERR_VERSION_UNSUPPORTED') throw versionRefused(err.message);
      throw err;
    } finally {
      await lock.release();
    }
  }

  private async serve({
    flags,
    stateDir,
    controllers,
    ca: givenCa,
    log,
    labels,
    policy,
    runAs,
    sshHosts,
    graceMs,
  }: {
    flags: FlagsOf<typeof AgentRun>;
    stateDir: string;
    controllers: string[];
    ca: string | undefined;
    log: Logger;
    labels: Record<string, string>;
    policy: PolicyRules;
    runAs: Awaited<ReturnType<typeof lookUpRunAs>> | undefined;
    sshHosts: Record<string, string>;
    graceMs: number;
  }): Promise<void> {
    const controller = controllers.length === 1 ? (controllers[0] as string) : controllers;
    // A first enrollment goes to the first controller (they share one store).
    const got = await this.credential(flags, stateDir, controllers[0] as string, givenCa, log);
    const { name, password, saved } = got;
    // --ca wins; else the CA pinned at enrollment (README, TLS).
    const ca = givenCa ?? got.pinnedCa ?? (await readPinnedCa(stateDir));
    // Loaded here: every other command (an `exec` in cron) would otherwise load the agent's modules too.
    const { passwordTokens, startAgent } = await import('../../agent/index.js');
    const tokens = passwordTokens(controller, name, password, ca);
    try {
      await tokens.get();
    } catch (err) {
      // Wrong credentials and untrusted certificates are fatal at start; an absent controller is waited for.
      const waitable = err instanceof UserError && err.exit === EXIT.unreachable;
      if (!waitable || err.code === 'ERR_TLS' || err.code === 'ERR_VERSION_UNSUPPORTED') {
        if (saved && err instanceof UserError && err.exit === EXIT.auth && err.code === 'ERR_AUTH') {
          throw authError(
            `the controller refused the credential of agent ${name} in ${saved}: the agent was removed, or the controller's store was replaced`,
            'an admin issues a join token (`ogent agents enroll-token`); move the credential file away and run with --join-token',
          );
        }
        throw err;
      }
      log.warn('controller not reachable yet; retrying', { controller });
    }
    let agent;
    try {
      agent = await startAgent({
        controller,
        tls: ca ? { ca } : undefined,
        name,
        labels,
        stateDir,
        tokens,
        log,
        executors: { sshHosts, sshConfig: flags['ssh-config'], runAs },
        policy,
        metricsPort: flags['metrics-port'],
        metricsHost: flags['metrics-host'],
      });
    } catch (err) {
      if (err instanceof StartupError) throw new UserError(err.message, { code: 'ERR_STARTUP', exit: 1 });
      throw err;
    }
    // Listening for signals before saying it started. A second signal cuts the grace short: running commands are
    // cancelled now, their results still kept.
    const signalled = waitForSignal(() => void agent.stop({ graceMs: 0 }));
    log.info('agent starting', {
      name,
      controller,
      ...(agent.metricsUrl ? { metrics: agent.metricsUrl } : {}),
      ...(policy.allow.length || policy.deny.length ? { policy } : {}),
      ...(runAs ? { runAs: runAs.name } : {}),
    });
    const refusal = await Promise.race([signalled.then(() => undefined), agent.refused]);
    if (refusal !== undefined) {
      // Retrying cannot help: the service manager should not restart it either (README "Versions and upgrades").
      await agent.stop();
      throw versionRefused(refusal);
    }
    log.info('agent stopping: no new runs; running ones may finish', { graceMs });
    await agent.stop({ graceMs });
    log.info('agent stopped');
  }

  /**
   * Who this agent is: with --join-token, the credential saved in the state dir, else one got now (and saved); without,
   * OGENT_PASSWORD (a user made with `users add --role agent`), else the saved credential. `saved` is the credential
   * file it came from. The flag wins over the environment: a shell's OGENT_USERNAME/OGENT_PASSWORD are not the agent's.
   * A join token that names the controller's CA (and no --ca): that CA, fetched, checked and saved (`pinnedCa`).
   */
  private async credential(
    flags: { name?: string; 'join-token'?: string },
    stateDir: string,
    controller: string,
    ca: string | undefined,
    log: Logger,
  ): Promise<{ name: string; password: string; saved?: string; pinnedCa?: string }> {
    const password = flags['join-token'] ? undefined : process.env.OGENT_PASSWORD;
    if (flags['join-token'] && process.env.OGENT_PASSWORD) {
      log.info('OGENT_PASSWORD is not used: --join-token enrolls this agent, or it is enrolled already');
    }
    if (password) {
      const name = checkName(flags.name ?? defaultAgentName());
      const username = process.env.OGENT_USERNAME || name;
      if (username !== name) throw usageError(`the agent user name (${username}) must be the agent name (${name})`);
      return { name, password };
    }
    const stored = await readCredential(stateDir);
    if (stored) {
      if (flags.name !== undefined && flags.name !== stored.name) {
        throw usageError(
          `${credentialPath(stateDir)} is the credential of agent ${stored.name}, not ${flags.name}`,
          `pass --name ${stored.name}, or another --state-dir for another agent`,
        );
      }
      if (flags['join-token']) log.info('already enrolled; --join-token is not used', { name: stored.name });
      return { name: checkName(stored.name), password: stored.password, saved: credentialPath(stateDir) };
    }
    const joinToken = flags['join-token'];
    if (!joinToken) {
      throw authError(
        'no agent credential: pass --join-token, or set OGENT_PASSWORD',
        `an admin issues a join token with \`ogent agents enroll-token\` (or creates the user with \`ogent users add ${flags.name ?? defaultAgentName()} --role agent\`)`,
      );
    }
    const name = checkName(flags.name ?? defaultAgentName());
    const token = parseJoinToken(joinToken);
    if (!token) {
      throw usageError(
        'invalid --join-token: what follows its "." must be the 64 hex digits of a sha256',
        'copy the whole token `ogent agents enroll-token` printed',
      );
    }
    let pinnedCa: string | undefined;
    if (token.caFingerprint && !ca) {
      pinnedCa = await fetchPinnedCa(controller, token.caFingerprint);
      const caPath = await savePinnedCa(stateDir, pinnedCa);
      log.info('pinned the controller CA of the join token', { ca: caPath, fingerprint: token.caFingerprint });
    }
    const credential = await enroll(controller, token.secret, name, ca ?? pinnedCa);
    const path = await saveCredential(stateDir, credential);
    log.info('enrolled', { name, credential: path });
    return { name, password: credential.password, ...(pinnedCa ? { pinnedCa } : {}) };
  }
}

/** An agent refused for its version exits 1: it is no usage or credential problem, and waiting cannot help. */
function versionRefused(message: string): UserError {
  return new UserError(message, {
    code: 'ERR_VERSION_UNSUPPORTED',
    exit: EXIT.runsFailed,
    suggestion: 'upgrade the agent (controllers first, then agents, one minor release at a time)',
  });
}

/** `--label key=value`, checked. */
function checkName(name: string): string {
  try {
    parse(agentNameCheck, name);
  } catch {
    throw usageError(`invalid agent name "${name}": letters, digits, . _ - (max 63), starting with a letter or digit`);
  }
  return name;
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

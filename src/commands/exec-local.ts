import { Flags } from '@oclif/core';
import type { Session } from '../client/credentials.js';
import { StartupError, UserError, usageError } from '../lib/errors.js';
import { createLogger, LOG_LEVELS, type LogLevel } from '../lib/log.js';
import { loadPolicy, lookUpRunAs } from './policy-flags.js';

/** The flags of `exec --local`: where the throw-away store goes, and `agent run`'s policy for the embedded agent. */
export const localFlags = {
  local: Flags.boolean({
    summary:
      'Run on this host only, through a controller and an agent started inside this process (no server, no login).',
    description:
      'The command runs as the invoking user; no credentials are needed, read or stored. The store is a temporary ' +
      'directory, removed at the end (or --data-dir); the controller listens on 127.0.0.1 on a free port until exec exits.',
  }),
  'data-dir': Flags.string({
    summary: 'With --local: keep the store here (the job stays in its history) instead of a temporary directory.',
    helpValue: 'DIR',
  }),
  allow: Flags.string({
    multiple: true,
    multipleNonGreedy: true,
    summary: "With --local: run only commands that match one of these regular expressions (as `agent run`'s).",
    helpValue: 'REGEX',
  }),
  deny: Flags.string({
    multiple: true,
    multipleNonGreedy: true,
    summary: 'With --local: refuse commands that match this regular expression (wins over --allow).',
    helpValue: 'REGEX',
  }),
  policy: Flags.string({
    summary: 'With --local: a policy file, as `agent run --policy`.',
    helpValue: 'FILE',
  }),
  'run-as': Flags.string({
    summary: 'With --local: run the command as this user (exec must run as root), as `agent run --run-as`.',
    helpValue: 'USER',
  }),
};

type LocalFlagName = keyof typeof localFlags;
const LOCAL_ONLY: LocalFlagName[] = ['data-dir', 'allow', 'deny', 'policy', 'run-as'];

/** What each flag that means something only with a remote controller is said as, and why --local refuses it. */
const REMOTE_ONLY: Record<string, { shown: string; why: string }> = {
  target: { shown: '-t', why: 'it runs on this host only' },
  all: { shown: '--all', why: 'it runs on this host only' },
  controller: { shown: '--controller', why: 'it starts its own controller in this process' },
  ca: { shown: '--ca', why: 'it starts its own controller in this process' },
  'request-timeout': { shown: '--request-timeout', why: 'it starts its own controller in this process' },
  'insecure-http': { shown: '--insecure-http', why: 'it starts its own controller in this process' },
  patience: { shown: '--patience', why: 'its controller cannot go away while it runs' },
  async: { shown: '--async', why: 'its controller ends with this process, and the job with it' },
  'deliver-within': { shown: '--deliver-within', why: 'its one agent is always connected' },
  'ssh-target': { shown: '--ssh-target', why: 'its agent has no ssh hosts' },
  via: { shown: '--via', why: 'its agent has no ssh hosts' },
  ai: { shown: '--ai', why: 'its controller has no AI endpoint' },
  review: { shown: '--review', why: 'its controller has no AI endpoint' },
  'dry-run': { shown: '--dry-run', why: 'its controller has no AI endpoint' },
  'allow-high-risk': { shown: '--allow-high-risk', why: 'its controller has no AI endpoint' },
  yes: { shown: '--yes', why: 'its controller has no AI endpoint' },
};

/**
 * Refuses (exit 2) what does not go with `--local`, or, without it, the flags that mean something only with it.
 * `given` are the flags typed on the command line: an OGENT_CONTROLLER in the environment does not stop `--local`.
 */
export function checkLocalFlags(local: boolean, given: Set<string>, executor: string | undefined): void {
  if (!local) {
    const stray = LOCAL_ONLY.find((name) => given.has(name));
    if (stray) throw usageError(`--${stray} goes with --local`, `ogent exec --local --${stray} … -- COMMAND`);
    return;
  }
  const remote = Object.keys(REMOTE_ONLY).find((name) => given.has(name));
  if (remote) {
    const { shown, why } = REMOTE_ONLY[remote] as { shown: string; why: string };
    throw usageError(`--local cannot be combined with ${shown}: ${why}`, 'ogent exec --local -- uptime');
  }
  if (executor === 'ssh') {
    throw usageError('--local cannot be combined with --executor ssh: its agent has no ssh hosts');
  }
}

/** The flags typed on the command line (not those from the environment or defaults), from oclif's `raw`. */
export function givenFlags(raw: Array<{ type: string; flag?: string }>): Set<string> {
  return new Set(raw.flatMap((token) => (token.type === 'flag' && token.flag ? [token.flag] : [])));
}

export interface LocalFlags {
  'data-dir'?: string;
  allow?: string[];
  deny?: string[];
  policy?: string;
  'run-as'?: string;
}

export interface LocalRun {
  /** The embedded controller, with a token issued in-process: nothing stored is read. */
  session: Session;
  /** The selector of the one run: the embedded agent's name. */
  targets: string[];
  /** Stops the agent and the controller and removes the throw-away store; no process or socket stays. */
  stop(): Promise<void>;
}

/**
 * `ogent exec --local`: starts a controller and an agent in this process (controller/embedded.ts, loaded only here),
 * for `runExec` to send the job through; `stop` ends both. Until then a SIGINT, SIGTERM or SIGHUP cancels the runs
 * (their process trees are killed), so the job ends and nothing is left behind.
 */
export async function startLocal(flags: LocalFlags, env: NodeJS.ProcessEnv = process.env): Promise<LocalRun> {
  // Refused before anything starts: a bad policy, a user to run as that cannot be.
  const policy = await loadPolicy(flags.allow ?? [], flags.deny ?? [], flags.policy);
  const runAs = flags['run-as'] === undefined ? undefined : await lookUpRunAs(flags['run-as']);
  const { startEmbedded } = await import('../controller/embedded.js');
  // Quiet by default: what exec prints is the job; OGENT_LOG_LEVEL=info shows the controller's and agent's logs.
  const level = (LOG_LEVELS as string[]).includes(env.OGENT_LOG_LEVEL ?? '') ? env.OGENT_LOG_LEVEL : 'error';
  let embedded;
  try {
    embedded = await startEmbedded({ dataDir: flags['data-dir'], policy, runAs, log: createLogger(level as LogLevel) });
  } catch (err) {
    if (err instanceof StartupError) throw new UserError(err.message, { code: 'ERR_STARTUP', exit: 1 });
    throw err;
  }
  const running = embedded;
  const onSignal = () => void running.cancelRuns();
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const signal of signals) process.on(signal, onSignal);
  return {
    session: { controller: running.url, token: () => running.token() },
    targets: [running.agentName],
    async stop() {
      // Left running when exec stops following (the live view's detach): they end with this process, so say so.
      const active = running.activeRuns();
      await running.stop();
      if (active) {
        process.stderr.write(
          `ogent: --local: ${active === 1 ? 'the run still going was' : `${active} runs still going were`} cancelled: the job ends with exec\n`,
        );
      }
      for (const signal of signals) process.off(signal, onSignal);
    },
  };
}

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, type RunningAgent } from '../agent/index.js';
import { defaultAgentName } from '../agent/facts.js';
import type { PolicyRules } from '../agent/policy.js';
import type { RunAsUser } from '../lib/process.js';
import { StartupError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { generatePassword } from './application/passwords.js';
import { startController, type RunningController } from './index.js';

export interface EmbeddedOptions {
  /** Keep the store here (and keep it afterwards); default: a new directory under $TMPDIR, removed by `stop`. */
  dataDir?: string;
  /** `--allow` / `--deny` / `--policy` of `agent run`, for the embedded agent. */
  policy?: PolicyRules;
  /** `--run-as`: every command runs as this user (the process must be root). */
  runAs?: RunAsUser;
  log: Logger;
}

export interface EmbeddedRun {
  /** Where the embedded controller listens: `http://127.0.0.1:PORT`. */
  url: string;
  /** The embedded agent's name: the host name, sanitised (as `controller serve --local-agent`). */
  agentName: string;
  /** A token of the store's admin, issued in-process: no password is asked for, read or stored. */
  token(): Promise<string>;
  /** Runs the agent has going now (still running when the client stopped following: a detach, an error). */
  activeRuns(): number;
  /** Ends the agent's runs (cancelled, and reported), so a job still going ends; the process may then stop. */
  cancelRuns(): Promise<void>;
  /** Stops the agent and the controller, then removes the throw-away store; no socket or process stays. */
  stop(): Promise<void>;
}

/** The admin `ensureAdmin` creates in an empty store; the embedded client acts as it. */
const ADMIN = 'admin';
/** Who adds the agent's user, in the audit log (as `controller serve --local-agent`). */
const SELF = { name: 'controller', role: 'admin' } as const;

/**
 * `ogent exec --local` (docs/architecture.md §1, "Embedded mode"): a controller on 127.0.0.1, a free port, and one
 * agent named after this host, both in this process, on a throw-away store. Nothing is reached over the network but
 * loopback, and the client's token is issued in-process, so no credential is needed or kept.
 */
export async function startEmbedded(options: EmbeddedOptions): Promise<EmbeddedRun> {
  const throwAway = options.dataDir === undefined ? await mkdtemp(join(tmpdir(), 'ogent-local-')) : undefined;
  const dataDir = options.dataDir ?? (throwAway as string);
  let controller: RunningController | undefined;
  let agent: RunningAgent | undefined;
  const stop = async () => {
    await agent?.stop({ graceMs: 0 });
    await controller?.close();
    if (throwAway) await rm(throwAway, { recursive: true, force: true });
  };
  try {
    controller = await startController({
      host: '127.0.0.1',
      port: 0,
      dataDir,
      tokenTtlSeconds: 3600,
      refreshTtlSeconds: 0,
      metrics: false,
      // The agent lives in this process: it goes away only with it, so its runs need no long wait to be `lost`.
      lostAfterMs: 5000,
      log: options.log,
    });
    const { auth } = controller;
    const name = defaultAgentName();
    const users = await auth.listUsers(SELF);
    const existing = users.find((u) => u.name === name);
    if (existing && existing.role !== 'agent') {
      throw new StartupError(`--local: user "${name}" of ${dataDir} has role ${existing.role}, not agent`);
    }
    if (!users.some((u) => u.name === ADMIN && u.role === 'admin')) {
      throw new StartupError(`--local: the store in ${dataDir} has no admin user named ${ADMIN}`);
    }
    // Its password is never used: its tokens are issued in-process.
    if (!existing) await auth.addUser(SELF, name, 'agent', generatePassword());
    agent = await startAgent({
      controller: controller.url,
      name,
      labels: {},
      stateDir: null,
      tokens: { get: async () => (await auth.issueFor(name)).token },
      log: options.log,
      executors: options.runAs ? { runAs: options.runAs } : undefined,
      policy: options.policy,
      minDelayMs: 50,
      maxDelayMs: 500,
    });
    await agent.ready;
    const running = agent;
    return {
      url: controller.url,
      agentName: name,
      token: async () => (await auth.issueFor(ADMIN)).token,
      activeRuns: () => running.manager.running,
      cancelRuns: () => running.stop({ graceMs: 0 }),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

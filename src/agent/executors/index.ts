import { execExecutor } from './exec.js';
import type { RunAsUser } from '../../lib/process.js';
import type { Executor } from './executor.js';
import { scriptExecutor } from './script.js';
import { shellExecutor } from './shell.js';
import { findSsh, sshExecutor } from './ssh.js';

export type { Executor } from './executor.js';

export interface ExecutorSettings {
  /** ssh hosts by name: `NAME → [user@]host[:port]`. */
  sshHosts?: Record<string, string>;
  /** An ssh_config for the ssh executor (`ssh -F`). */
  sshConfig?: string;
  /** The OpenSSH client; default: `ssh` on PATH; null: none (no ssh executor). */
  sshBinary?: string | null;
  /** `agent run --run-as`: every executor runs its commands as this user. */
  runAs?: RunAsUser;
}

/** The executors an agent offers: shell, exec and script always; ssh when an OpenSSH client is found. */
export function buildExecutors(settings: ExecutorSettings = {}): Record<string, Executor> {
  const { runAs } = settings;
  const executors: Record<string, Executor> = {
    shell: shellExecutor(runAs),
    exec: execExecutor(runAs),
    script: scriptExecutor(runAs),
  };
  const binary = settings.sshBinary === undefined ? findSsh() : settings.sshBinary;
  if (binary) {
    executors.ssh = sshExecutor({ binary, hosts: settings.sshHosts ?? {}, configFile: settings.sshConfig, runAs });
  }
  return executors;
}

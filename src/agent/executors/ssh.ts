import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { parseSshDestination, quoteArgv } from '../../domain/job-spec.js';
import { spawnCommand, type RunAsUser } from '../../lib/process.js';
import { spawnOptions, type Executor, type ExecutorRequest } from './executor.js';
import { notStarted } from '../../lib/process.js';

export interface SshSettings {
  /** The OpenSSH client to run. */
  binary: string;
  /** Hosts by name (`--ssh-host NAME=[user@]host[:port]`). */
  hosts: Record<string, string>;
  /** An ssh_config to use instead of ~/.ssh/config (`-F`). */
  configFile?: string;
  /** `--run-as`: ssh runs as that user, with its keys and known_hosts. */
  runAs?: RunAsUser;
}

/** The `ssh` client on PATH, or null. */
export function findSsh(path = process.env.PATH ?? ''): string | null {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, 'ssh');
    try {
      accessSync(file, constants.X_OK);
      if (statSync(file).isFile()) return file;
    } catch {
      // not here
    }
  }
  return null;
}

/** What the remote login shell runs: the job's variables exported, its directory entered, then the command. */
export function remoteCommand(request: Pick<ExecutorRequest, 'command' | 'env' | 'cwd'>): string {
  const exports = Object.entries(request.env ?? {}).map(([k, v]) => `export ${k}=${quoteArgv([v])}; `);
  const cd = request.cwd ? `cd ${quoteArgv([request.cwd])} || exit 1; ` : '';
  return `${exports.join('')}${cd}${request.command}`;
}

/**
 * `ssh`: runs the command on an agentless host with the system OpenSSH client, as the agent's user, with its keys,
 * known_hosts and config. BatchMode: never a prompt; an unknown host key or a missing key fails the run.
 */
export function sshExecutor(settings: SshSettings): Executor {
  const destinationOf = (request: ExecutorRequest) => {
    if (request.sshHost !== undefined) {
      const configured = settings.hosts[request.sshHost];
      return configured === undefined ? null : parseSshDestination(configured);
    }
    return request.sshTarget === undefined ? null : parseSshDestination(request.sshTarget);
  };
  return {
    refuse: (request) => {
      if (request.sshHost !== undefined && settings.hosts[request.sshHost] === undefined) {
        return `no ssh host "${request.sshHost}" on this agent (agent run --ssh-host)`;
      }
      if (!destinationOf(request)) return 'the ssh executor needs a host: [user@]host[:port]';
      return undefined;
    },
    start: (request) => {
      const destination = destinationOf(request);
      if (!destination) return notStarted('no ssh destination');
      const args = [
        '-T',
        '-o',
        'BatchMode=yes',
        '-o',
        'ConnectTimeout=15',
        ...(settings.configFile ? ['-F', settings.configFile] : []),
        ...(destination.port ? ['-p', String(destination.port)] : []),
        '--',
        destination.user ? `${destination.user}@${destination.host}` : destination.host,
        remoteCommand(request),
      ];
      // The job's env and cwd apply on the remote host (remoteCommand), not to the local ssh client.
      return spawnCommand(settings.binary, args, spawnOptions({ stdin: request.stdin }, settings.runAs));
    },
  };
}

import type { Executor } from './model.js';

/**
 * What a job runs, checked for consistency per executor (README, Executors): `shell` and `ssh` run `command` through a shell,
 * `exec` runs `args` with no shell, `script` runs `script` (a file's content) with `args`. Pure.
 */
export interface JobSpec {
  /** The command line (shell, ssh), or how the job shows it (exec, script). */
  command: string;
  executor: Executor;
  args?: string[];
  script?: string;
  sshTarget?: string;
  via?: string[];
}

export interface JobSpecInput {
  command?: string;
  executor: Executor;
  args?: string[];
  script?: string;
  /** `script`: the file's name, for the job's `command`. */
  scriptName?: string;
  sshTarget?: string;
  via?: string[];
}

export class JobSpecError extends Error {
  override name = 'JobSpecError';
}

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** argv as a POSIX shell would read it back: `ls -la '/my dir'`. */
export function quoteArgv(args: readonly string[]): string {
  return args.map((a) => (SAFE_WORD.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** `[user@]host[:port]` (host a name, an IPv4 or a bracketed IPv6 address); never starts with `-`. */
const SSH_DESTINATION =
  /^(?:([A-Za-z0-9._][A-Za-z0-9._-]*)@)?([A-Za-z0-9][A-Za-z0-9.-]*|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?$/;

export interface SshDestination {
  user?: string;
  host: string;
  port?: number;
}

/** Parses `[user@]host[:port]`; null when it is not one. */
export function parseSshDestination(text: string): SshDestination | null {
  const m = SSH_DESTINATION.exec(text);
  if (!m?.[2]) return null;
  const port = m[3] === undefined ? undefined : Number(m[3]);
  if (port !== undefined && (port < 1 || port > 65535)) return null;
  const host = m[2].startsWith('[') ? m[2].slice(1, -1) : m[2];
  return { ...(m[1] ? { user: m[1] } : {}), host, ...(port ? { port } : {}) };
}

const forbid = (input: JobSpecInput, fields: Array<keyof JobSpecInput>) => {
  for (const field of fields) {
    if (input[field] !== undefined) throw new JobSpecError(`${field} does not apply to the ${input.executor} executor`);
  }
};

/** Checks that `input` holds what its executor needs and nothing it does not; throws JobSpecError. */
export function jobSpecOf(input: JobSpecInput): JobSpec {
  const { executor } = input;
  const command = input.command?.trim() ? input.command : undefined;
  switch (executor) {
    case 'shell':
      forbid(input, ['args', 'script', 'scriptName', 'sshTarget', 'via']);
      if (!command) throw new JobSpecError('command is required');
      return { command, executor };
    case 'exec': {
      forbid(input, ['command', 'script', 'scriptName', 'sshTarget', 'via']);
      const args = input.args ?? [];
      if (!args[0]) throw new JobSpecError('args is required: the program and its arguments');
      return { command: quoteArgv(args), executor, args };
    }
    case 'script': {
      forbid(input, ['command', 'sshTarget', 'via']);
      if (!input.script) throw new JobSpecError('script is required: the content of the file');
      if (!input.script.startsWith('#!')) {
        throw new JobSpecError('the script must start with a shebang line (#!/bin/sh, #!/usr/bin/env bash, …)');
      }
      const args = input.args ?? [];
      const command = [input.scriptName || 'script', ...(args.length ? [quoteArgv(args)] : [])].join(' ');
      return { command, executor, script: input.script, ...(args.length ? { args } : {}) };
    }
    case 'ssh': {
      forbid(input, ['args', 'script', 'scriptName']);
      if (!command) throw new JobSpecError('command is required');
      if (input.sshTarget === undefined) {
        if (input.via !== undefined) throw new JobSpecError('via applies only with sshTarget');
        return { command, executor };
      }
      if (!parseSshDestination(input.sshTarget)) {
        throw new JobSpecError(`invalid ssh target "${input.sshTarget}": use [user@]host[:port]`);
      }
      if (!input.via?.length) throw new JobSpecError('sshTarget needs via: the agent that connects to it');
      return { command, executor, sshTarget: input.sshTarget, via: input.via };
    }
  }
}

import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { jobSpecOf, JobSpecError } from '../domain/job-spec.js';
import type { Executor } from '../domain/model.js';
import { usageError } from '../lib/errors.js';
import { LIMITS, type JobRequest } from '../protocol/events.js';

/** How `exec` asks agents to run the command (README, Executors: `--executor`, `--script`, `--cwd`, ssh flags). */
export interface ExecutorOptions {
  name: Executor;
  /** The words after `--`, as given: `exec`'s argv, or the script's arguments. */
  argv: string[];
  script?: { name: string; content: string };
  cwd?: string;
  sshTarget?: string;
  via?: string;
}

export type ExecutorFields = Pick<
  JobRequest,
  'command' | 'executor' | 'args' | 'script' | 'scriptName' | 'cwd' | 'sshTarget' | 'via'
>;

/** Reads `--script FILE`: at most 64 KiB, starting with a shebang line. */
export async function readScript(file: string): Promise<{ name: string; content: string }> {
  let content: string;
  try {
    if ((await stat(file)).size > LIMITS.commandBytes) {
      throw usageError(`--script ${file} is larger than ${LIMITS.commandBytes / 1024} KiB`);
    }
    content = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as { code?: string }).code === undefined) throw err;
    throw usageError(`cannot read --script ${file}: ${(err as Error).message}`);
  }
  if (!content.startsWith('#!')) {
    throw usageError(
      `--script ${file} has no shebang line`,
      'make its first line e.g. #!/bin/sh or #!/usr/bin/env bash',
    );
  }
  return { name: basename(file), content };
}

/** The executor's part of the job request, checked as the controller will check it (exit 2 on bad input). */
export function executorFields(
  command: string,
  options: ExecutorOptions | undefined,
  hasTargets: boolean,
): ExecutorFields {
  if (!options) return { command, executor: 'shell' };
  const { name } = options;
  if (name !== 'ssh' && (options.sshTarget || options.via)) {
    throw usageError('--ssh-target and --via go with --executor ssh');
  }
  if (Boolean(options.sshTarget) !== Boolean(options.via)) {
    throw usageError(
      '--ssh-target and --via go together',
      'ogent exec --executor ssh --via gw-1 --ssh-target admin@10.0.0.5 -- uptime',
    );
  }
  if (options.sshTarget && hasTargets) {
    throw usageError('--ssh-target runs through the agent --via names: give no -t or --all');
  }
  const fields: ExecutorFields =
    name === 'exec'
      ? { executor: name, args: options.argv }
      : name === 'script'
        ? {
            executor: name,
            script: options.script?.content,
            scriptName: options.script?.name,
            ...(options.argv.length ? { args: options.argv } : {}),
          }
        : {
            executor: name,
            command,
            ...(options.sshTarget ? { sshTarget: options.sshTarget, via: [options.via ?? ''] } : {}),
          };
  if (name === 'script' && !options.script) throw usageError('--executor script needs --script FILE');
  if (name === 'exec' && !options.argv.length) {
    throw usageError('no program given', 'ogent exec --executor exec -t NAME -- ls -la /tmp');
  }
  try {
    jobSpecOf(fields);
  } catch (err) {
    if (err instanceof JobSpecError) throw usageError(err.message);
    throw err;
  }
  return { ...fields, ...(options.cwd ? { cwd: options.cwd } : {}) };
}

/** The executor flags of `exec`, read (the script file too) into options. */
export async function executorOptions(
  flags: { executor?: string; script?: string; cwd?: string; 'ssh-target'?: string; via?: string },
  argv: string[],
): Promise<ExecutorOptions> {
  if (flags.script && flags.executor && flags.executor !== 'script') {
    throw usageError(`--script runs with the script executor, not ${flags.executor}`);
  }
  const name = (flags.script ? 'script' : (flags.executor ?? 'shell')) as Executor;
  return {
    name,
    argv,
    ...(flags.script ? { script: await readScript(flags.script) } : {}),
    ...(flags.cwd ? { cwd: flags.cwd } : {}),
    ...(flags['ssh-target'] ? { sshTarget: flags['ssh-target'] } : {}),
    ...(flags.via ? { via: flags.via } : {}),
  };
}

import { Args, Flags } from '@oclif/core';
import { resolveSession } from '../../client/credentials.js';
import { rerunJob } from '../../client/exec-service.js';
import { outputMode } from '../../client/live-follow.js';
import { TERMINAL_RUN_STATUSES, type TerminalRunStatus } from '../../domain/model.js';
import { usageError } from '../../lib/errors.js';
import { BaseCommand, connectionFlags, groupFlag, jsonFlag, parseDuration, patienceFlag } from '../base.js';

export default class JobsRerun extends BaseCommand {
  static override summary = 'Run a job again on the agents whose runs did not succeed (or --status, --all).';
  static override description =
    'A new job with the same request (command, executor, env, cwd, rollout flags) on the targets picked by how their ' +
    'runs ended; it records the job it re-runs. Output, flags and exit codes as `exec`.';
  static override examples = [
    '<%= config.bin %> jobs rerun j0abc123',
    '<%= config.bin %> jobs rerun j0abc123 --status timed_out,unreachable --group',
    '<%= config.bin %> jobs rerun j0abc123 --all --async',
  ];
  static override args = { id: Args.string({ required: true, description: 'Job id.' }) };
  static override flags = {
    ...connectionFlags,
    status: Flags.string({
      summary: `Only runs that ended so (comma-separated: ${TERMINAL_RUN_STATUSES.join(', ')}).`,
      helpValue: 'STATUS,…',
      exclusive: ['all'],
    }),
    all: Flags.boolean({ char: 'a', summary: 'Every run of the job, succeeded ones too.' }),
    json: jsonFlag,
    stream: Flags.boolean({ summary: 'Print NDJSON events as they happen.', exclusive: ['json', 'group'] }),
    group: groupFlag,
    async: Flags.boolean({ summary: 'Print the new job id and exit at once.' }),
    'no-tui': Flags.boolean({ summary: 'Plain prefixed lines even on a terminal.' }),
    patience: patienceFlag,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(JobsRerun);
    const pick = flags.all ? { all: true } : flags.status ? { statuses: parseStatuses(flags.status) } : {};
    const session = await resolveSession(flags);
    const mode = outputMode({ json: flags.json, stream: flags.stream, noTui: flags['no-tui'], group: flags.group });
    const options = { mode, async: flags.async, patienceMs: parseDuration(flags.patience, '--patience') };
    await this.finish(await rerunJob(session, args.id, pick, options));
  }
}

function parseStatuses(text: string): TerminalRunStatus[] {
  const words = text.split(',').map((w) => w.trim());
  for (const w of words) {
    if (!(TERMINAL_RUN_STATUSES as readonly string[]).includes(w)) {
      throw usageError(`unknown status "${w}" in --status`, `use ${TERMINAL_RUN_STATUSES.join(', ')}`);
    }
  }
  return [...new Set(words)] as TerminalRunStatus[];
}

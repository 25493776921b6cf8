import { Args, Flags } from '@oclif/core';
import { resolveSession } from '../../client/credentials.js';
import { attachJob } from '../../client/exec-service.js';
import { BaseCommand, connectionFlags, groupFlag, jsonFlag, parseDuration, patienceFlag } from '../base.js';

export default class JobsWait extends BaseCommand {
  static override summary = 'Attach to a job, print its output until it ends, and exit with its code (as `exec`).';
  static override examples = [
    '<%= config.bin %> jobs wait j0abc123',
    '<%= config.bin %> jobs wait j0abc123 --json > result.json',
  ];
  static override args = { id: Args.string({ required: true, description: 'Job id.' }) };
  static override flags = {
    ...connectionFlags,
    json: jsonFlag,
    stream: Flags.boolean({ summary: 'Print NDJSON events as they happen.', exclusive: ['json', 'group'] }),
    group: groupFlag,
    patience: patienceFlag,
    'no-tui': Flags.boolean({ summary: 'Plain prefixed lines even on a terminal.' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(JobsWait);
    const session = await resolveSession(flags);
    const options = {
      json: flags.json,
      stream: flags.stream,
      noTui: flags['no-tui'],
      group: flags.group,
      patienceMs: parseDuration(flags.patience),
    };
    await this.finish(await attachJob(session, args.id, options));
  }
}

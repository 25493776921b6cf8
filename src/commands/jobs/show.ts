import { Args, Flags } from '@oclif/core';
import { ApiClient } from '../../client/api.js';
import { resolveSession } from '../../client/credentials.js';
import { attachJob } from '../../client/exec-service.js';
import { jobDetails } from '../../ui/views.js';
import { BaseCommand, connectionFlags, groupFlag, jsonFlag, parseDuration, patienceFlag } from '../base.js';

export default class JobsShow extends BaseCommand {
  static override summary = 'Show a job and its runs (the job document with --json).';
  static override examples = [
    '<%= config.bin %> jobs show j0abc123',
    '<%= config.bin %> jobs show j0abc123 --json',
    {
      description: 'Attach to a running job (as `jobs wait`)',
      command: '<%= config.bin %> jobs show j0abc123 --follow',
    },
  ];
  static override args = { id: Args.string({ required: true, description: 'Job id.' }) };
  static override flags = {
    ...connectionFlags,
    json: jsonFlag,
    follow: Flags.boolean({ char: 'f', summary: 'Follow the job live until it ends; exit codes as `exec`.' }),
    patience: patienceFlag,
    'no-tui': Flags.boolean({ summary: 'With --follow: plain prefixed lines even on a terminal.' }),
    group: groupFlag,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(JobsShow);
    const session = await resolveSession(flags);
    // --group waits for a running job's end, as --follow does: the groups are of whole outputs.
    if (flags.follow || flags.group) {
      const options = {
        json: flags.json,
        stream: false,
        noTui: flags['no-tui'],
        group: flags.group,
        patienceMs: parseDuration(flags.patience),
      };
      await this.finish(await attachJob(session, args.id, options));
      return;
    }
    const job = await new ApiClient(session).job(args.id);
    process.stdout.write(flags.json ? `${JSON.stringify(job, null, 2)}\n` : jobDetails(job));
  }
}

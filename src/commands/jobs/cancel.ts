import { Args } from '@oclif/core';
import { ApiClient } from '../../client/api.js';
import { resolveSession } from '../../client/credentials.js';
import { BaseCommand, connectionFlags } from '../base.js';

export default class JobsCancel extends BaseCommand {
  static override summary = 'Cancel a job: its running commands are killed, runs not started are cancelled.';
  static override examples = ['<%= config.bin %> jobs cancel j0abc123'];
  static override args = { id: Args.string({ required: true, description: 'Job id.' }) };
  static override flags = { ...connectionFlags };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(JobsCancel);
    const job = await new ApiClient(await resolveSession(flags)).cancelJob(args.id);
    process.stderr.write(
      job.status === 'running'
        ? `cancelling job ${job.id}; follow it with \`ogent jobs wait ${job.id}\`\n`
        : `job ${job.id} is ${job.status}\n`,
    );
  }
}

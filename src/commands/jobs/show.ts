import { Args } from '@oclif/core';
import { ApiClient } from '../../client/api.js';
import { resolveSession } from '../../client/credentials.js';
import { jobDetails } from '../../ui/views.js';
import { BaseCommand, connectionFlags, jsonFlag } from '../base.js';

export default class JobsShow extends BaseCommand {
  static override summary = 'Show a job and its runs (the job document with --json).';
  static override examples = ['<%= config.bin %> jobs show j0abc123', '<%= config.bin %> jobs show j0abc123 --json'];
  static override args = { id: Args.string({ required: true, description: 'Job id.' }) };
  static override flags = { ...connectionFlags, json: jsonFlag };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(JobsShow);
    const job = await new ApiClient(await resolveSession(flags.controller)).job(args.id);
    process.stdout.write(flags.json ? `${JSON.stringify(job, null, 2)}\n` : jobDetails(job));
  }
}

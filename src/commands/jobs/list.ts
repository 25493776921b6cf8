import { Flags } from '@oclif/core';
import { ApiClient } from '../../client/api.js';
import { resolveSession } from '../../client/credentials.js';
import { jobsTable } from '../../ui/views.js';
import { BaseCommand, connectionFlags, jsonFlag } from '../base.js';

export default class JobsList extends BaseCommand {
  static override summary = 'List jobs, newest first.';
  static override examples = ['<%= config.bin %> jobs list', '<%= config.bin %> jobs list --limit 100 --json'];
  static override flags = {
    ...connectionFlags,
    limit: Flags.integer({ summary: 'How many jobs.', default: 20, min: 1, max: 1000 }),
    before: Flags.string({ summary: 'Only jobs older than this job id (paging).', helpValue: 'ID' }),
    json: jsonFlag,
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(JobsList);
    const jobs = await new ApiClient(await resolveSession(flags)).jobs(flags.limit, flags.before);
    process.stdout.write(flags.json ? `${JSON.stringify({ jobs }, null, 2)}\n` : jobsTable(jobs));
  }
}

import { Flags } from '@oclif/core';
import { ApiClient } from '../../client/api.js';
import { resolveSession } from '../../client/credentials.js';
import { parseTimeOrAgo } from '../../domain/duration.js';
import { BaseCommand, connectionFlags, jsonFlag } from '../base.js';

export default class JobsPrune extends BaseCommand {
  static override summary = 'Remove finished jobs created before a date, with their output (admin; audited).';
  static override description =
    'Unfinished jobs stay. The controller removes old jobs on its own too (`controller serve --retain-days`).';
  static override examples = [
    '<%= config.bin %> jobs prune --before 90d --dry-run',
    '<%= config.bin %> jobs prune --before 2026-01-01 --json',
  ];
  static override flags = {
    ...connectionFlags,
    before: Flags.string({
      summary: 'Remove the jobs created before this date (2026-01-01, any ISO 8601 time) or this long ago (90d, 12h).',
      helpValue: 'DATE|DURATION',
      default: '30d',
    }),
    'dry-run': Flags.boolean({
      summary: 'Count (and with --json list) the jobs that would go; remove nothing.',
      default: false,
    }),
    json: jsonFlag,
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(JobsPrune);
    const before = parseTimeOrAgo(flags.before, Date.now(), '--before');
    const dryRun = flags['dry-run'];
    const result = await new ApiClient(await resolveSession(flags)).pruneJobs({ before, dryRun });
    if (flags.json) {
      process.stdout.write(`${JSON.stringify({ before, dryRun, ...result })}\n`);
      return;
    }
    const jobs = `${result.removed} finished job${result.removed === 1 ? '' : 's'} created before ${before}`;
    process.stdout.write(dryRun ? `would remove ${jobs} (dry run: nothing removed)\n` : `removed ${jobs}\n`);
  }
}

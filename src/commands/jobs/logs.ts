import { Args, Flags } from '@oclif/core';
import { ApiClient } from '../../client/api.js';
import { resolveSession } from '../../client/credentials.js';
import { UserError } from '../../lib/errors.js';
import { BaseCommand, connectionFlags } from '../base.js';

export default class JobsLogs extends BaseCommand {
  static override summary = "Print a job's full output, every byte, per agent.";
  static override examples = [
    '<%= config.bin %> jobs logs j0abc123',
    '<%= config.bin %> jobs logs j0abc123 --agent web-1 > web-1.log',
  ];
  static override args = { id: Args.string({ required: true, description: 'Job id.' }) };
  static override flags = {
    ...connectionFlags,
    agent: Flags.string({ summary: "Only this agent's output, raw (no prefix).", helpValue: 'NAME' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(JobsLogs);
    const api = new ApiClient(await resolveSession(flags.controller));
    const job = await api.job(args.id);
    const runs = flags.agent ? job.runs.filter((r) => r.agent.name === flags.agent) : job.runs;
    if (flags.agent && !runs.length) {
      throw new UserError(`agent ${flags.agent} has no run in job ${job.id}`, { code: 'ERR_NOT_FOUND', exit: 1 });
    }
    for (const run of runs) {
      const [stdout, stderr] = await Promise.all([
        api.output(job.id, run.id, 'stdout'),
        api.output(job.id, run.id, 'stderr'),
      ]);
      if (flags.agent) {
        process.stdout.write(stdout);
        process.stderr.write(stderr);
        continue;
      }
      process.stdout.write(
        `==> ${run.agent.name} (${run.status}${run.exitCode === null ? '' : `, exit ${run.exitCode}`}) <==\n`,
      );
      process.stdout.write(stdout);
      if (stdout && !stdout.endsWith('\n')) process.stdout.write('\n');
      if (stderr) process.stdout.write(`--- stderr ---\n${stderr}${stderr.endsWith('\n') ? '' : '\n'}`);
    }
  }
}

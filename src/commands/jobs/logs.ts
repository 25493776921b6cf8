import { Args, Flags } from '@oclif/core';
import { ApiClient } from '../../client/api.js';
import { resolveSession } from '../../client/credentials.js';
import { printLogs } from '../../client/logs-service.js';
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
    const api = new ApiClient(await resolveSession(flags));
    await printLogs(api, await api.job(args.id), flags.agent, process);
  }
}

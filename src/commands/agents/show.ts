import { Args, Flags } from '@oclif/core';
import { ApiClient } from '../../client/api.js';
import { resolveSession } from '../../client/credentials.js';
import { agentDetails } from '../../ui/views.js';
import { BaseCommand, connectionFlags, jsonFlag } from '../base.js';

export default class AgentsShow extends BaseCommand {
  static override summary = 'Show one agent: its facts, labels, executors, connection and last runs.';
  static override examples = [
    '<%= config.bin %> agents show web-1',
    '<%= config.bin %> agents show web-1 --runs 30',
    '<%= config.bin %> agents show web-1 --json',
  ];
  static override args = { name: Args.string({ required: true, description: 'Agent name or id.' }) };
  static override flags = {
    ...connectionFlags,
    runs: Flags.integer({
      summary: 'How many of its newest runs to show.',
      default: 10,
      min: 0,
      max: 100,
      helpValue: 'N',
    }),
    json: jsonFlag,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(AgentsShow);
    const api = new ApiClient(await resolveSession(flags));
    const agent = await api.agent(args.name);
    const runs = flags.runs > 0 ? await api.agentRuns(agent.id, flags.runs) : [];
    process.stdout.write(flags.json ? `${JSON.stringify({ ...agent, runs }, null, 2)}\n` : agentDetails(agent, runs));
  }
}

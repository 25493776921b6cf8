import { Args } from '@oclif/core';
import { ApiClient } from '../../client/api.js';
import { resolveSession } from '../../client/credentials.js';
import { agentDetails } from '../../ui/views.js';
import { BaseCommand, connectionFlags, jsonFlag } from '../base.js';

export default class AgentsShow extends BaseCommand {
  static override summary = 'Show one agent: its facts, labels and connection.';
  static override examples = ['<%= config.bin %> agents show web-1', '<%= config.bin %> agents show web-1 --json'];
  static override args = { name: Args.string({ required: true, description: 'Agent name or id.' }) };
  static override flags = { ...connectionFlags, json: jsonFlag };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(AgentsShow);
    const agent = await new ApiClient(await resolveSession(flags.controller)).agent(args.name);
    process.stdout.write(flags.json ? `${JSON.stringify(agent, null, 2)}\n` : agentDetails(agent));
  }
}

import { Args } from '@oclif/core';
import { ApiClient } from '../../client/api.js';
import { resolveSession } from '../../client/credentials.js';
import { BaseCommand, connectionFlags } from '../base.js';

export default class AgentsRemove extends BaseCommand {
  static override summary =
    'Remove an agent (admin): its credential is revoked, it is disconnected and cannot connect again.';
  static override examples = ['<%= config.bin %> agents remove web-9'];
  static override args = { name: Args.string({ required: true, description: 'Agent name or id.' }) };
  static override flags = { ...connectionFlags };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(AgentsRemove);
    const agent = await new ApiClient(await resolveSession(flags)).removeAgent(args.name);
    process.stderr.write(`removed agent ${agent.name}\n`);
  }
}

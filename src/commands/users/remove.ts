import { Args } from '@oclif/core';
import { ApiClient } from '../../client/api.js';
import { resolveSession } from '../../client/credentials.js';
import { BaseCommand, connectionFlags } from '../base.js';

export default class UsersRemove extends BaseCommand {
  static override summary = 'Remove a user (admin); their tokens stop working.';
  static override examples = ['<%= config.bin %> users remove alice'];
  static override args = { name: Args.string({ required: true, description: 'User name.' }) };
  static override flags = { ...connectionFlags };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(UsersRemove);
    await new ApiClient(await resolveSession(flags)).removeUser(args.name);
    process.stderr.write(`removed user ${args.name}\n`);
  }
}

import { ApiClient } from '../../client/api.js';
import { resolveSession } from '../../client/credentials.js';
import { table } from '../../ui/table.js';
import { BaseCommand, connectionFlags, jsonFlag } from '../base.js';

export default class UsersList extends BaseCommand {
  static override summary = 'List users and their roles (admin).';
  static override examples = ['<%= config.bin %> users list', '<%= config.bin %> users list --json'];
  static override flags = { ...connectionFlags, json: jsonFlag };

  async run(): Promise<void> {
    const { flags } = await this.parse(UsersList);
    const users = await new ApiClient(await resolveSession(flags)).users();
    process.stdout.write(
      flags.json
        ? `${JSON.stringify({ users }, null, 2)}\n`
        : table(
            ['NAME', 'ROLE', 'CREATED'],
            users.map((u) => [u.name, u.role, u.createdAt]),
          ),
    );
  }
}

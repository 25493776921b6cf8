import { ApiClient } from '../../../client/api.js';
import { resolveSession } from '../../../client/credentials.js';
import { table } from '../../../ui/table.js';
import { BaseCommand, connectionFlags, jsonFlag } from '../../base.js';

export default class AgentsEnrollTokenList extends BaseCommand {
  static override summary = 'List join tokens (admin): who issued them, until when, how many uses are left.';
  static override description =
    'The secrets are never shown again: the controller keeps only their hashes. Expired tokens (used-up ones too, ' +
    'once they expire) stay listed for a week; issuing a new token then removes them.';
  static override examples = [
    '<%= config.bin %> agents enroll-token list',
    '<%= config.bin %> agents enroll-token list --json',
  ];
  static override flags = { ...connectionFlags, json: jsonFlag };

  async run(): Promise<void> {
    const { flags } = await this.parse(AgentsEnrollTokenList);
    const tokens = await new ApiClient(await resolveSession(flags)).enrollTokens();
    process.stdout.write(
      flags.json
        ? `${JSON.stringify({ tokens }, null, 2)}\n`
        : table(
            ['ID', 'STATE', 'USES LEFT', 'EXPIRES', 'CREATED', 'BY'],
            tokens.map((t) => [
              t.id,
              t.state.replace('_', ' '),
              String(t.usesLeft),
              t.expiresAt,
              t.createdAt,
              t.createdBy,
            ]),
          ),
    );
  }
}

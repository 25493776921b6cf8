import { Args } from '@oclif/core';
import { ApiClient } from '../../../client/api.js';
import { resolveSession } from '../../../client/credentials.js';
import { UserError } from '../../../lib/errors.js';
import { BaseCommand, connectionFlags, jsonFlag } from '../../base.js';

export default class AgentsEnrollTokenRevoke extends BaseCommand {
  static override summary = 'Revoke a join token (admin): no host can enroll with it afterwards.';
  static override description =
    'ID is the id `agents enroll-token` printed (and `agents enroll-token list` shows), or its first 8 ' +
    'characters or more. Agents that already enrolled with the token keep their own credentials: ' +
    '`ogent agents remove NAME` revokes those.';
  static override examples = [
    '<%= config.bin %> agents enroll-token revoke 3f2a9c1e',
    '<%= config.bin %> agents enroll-token revoke 3f2a9c1e-5b7d-4e0a-9c61-2f8e4d7a1b90 --json',
  ];
  static override args = {
    id: Args.string({ description: 'The join token id, or its first 8+ characters.', required: true }),
  };
  static override flags = { ...connectionFlags, json: jsonFlag };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(AgentsEnrollTokenRevoke);
    const token = await new ApiClient(await resolveSession(flags)).revokeEnrollToken(args.id).catch((err: Error) => {
      // A mistyped or already revoked id: say where the ids are.
      if (err instanceof UserError && err.code === 'ERR_NOT_FOUND') {
        throw new UserError(err.message, {
          ...err.options,
          suggestion: '`ogent agents enroll-token list` shows the ids',
        });
      }
      throw err;
    });
    if (flags.json) process.stdout.write(`${JSON.stringify(token, null, 2)}\n`);
    else
      process.stderr.write(
        `join token ${token.id} revoked (${token.usesLeft} use${token.usesLeft === 1 ? '' : 's'} were left)\n`,
      );
  }
}

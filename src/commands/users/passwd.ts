import { Args, Flags } from '@oclif/core';
import { ApiClient } from '../../client/api.js';
import { resolveSession } from '../../client/credentials.js';
import { readPassword } from '../../client/prompt.js';
import { BaseCommand, connectionFlags } from '../base.js';

export default class UsersPasswd extends BaseCommand {
  static override summary = "Set a user's password (admin, or yourself); their older tokens stop working.";
  static override examples = [
    '<%= config.bin %> users passwd alice',
    'printf %s "$PW" | <%= config.bin %> users passwd alice --password-stdin',
  ];
  static override args = { name: Args.string({ required: true, description: 'User name.' }) };
  static override flags = {
    ...connectionFlags,
    'password-stdin': Flags.boolean({ summary: 'Read the new password from standard input.' }),
    generate: Flags.boolean({ summary: 'Generate a password and print it once.', exclusive: ['password-stdin'] }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(UsersPasswd);
    const api = new ApiClient(await resolveSession(flags));
    const password = flags.generate
      ? undefined
      : await readPassword({ fromStdin: flags['password-stdin'], prompt: `New password for ${args.name}: ` });
    const res = await api.setPassword(args.name, password);
    process.stdout.write(
      res.password ? `password of ${res.name}: ${res.password}\n` : `password of ${res.name} changed\n`,
    );
  }
}

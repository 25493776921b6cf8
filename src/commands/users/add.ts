import { Args, Flags } from '@oclif/core';
import { ApiClient } from '../../client/api.js';
import { resolveSession } from '../../client/credentials.js';
import { readPassword } from '../../client/prompt.js';
import { ROLES } from '../../domain/model.js';
import { BaseCommand, connectionFlags, jsonFlag } from '../base.js';

export default class UsersAdd extends BaseCommand {
  static override summary = 'Add a user (admin). Without --password-stdin a password is generated and printed once.';
  static override examples = [
    '<%= config.bin %> users add alice --role operator',
    'printf %s "$PW" | <%= config.bin %> users add web-1 --role agent --password-stdin',
  ];
  static override args = {
    name: Args.string({ required: true, description: 'User name (for an agent: its agent name).' }),
  };
  static override flags = {
    ...connectionFlags,
    role: Flags.string({ summary: 'Role.', options: [...ROLES], required: true }),
    'password-stdin': Flags.boolean({ summary: 'Read the password from standard input.' }),
    json: jsonFlag,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(UsersAdd);
    const api = new ApiClient(await resolveSession(flags));
    const password = flags['password-stdin'] ? await readPassword({ fromStdin: true, prompt: '' }) : undefined;
    const user = await api.addUser(args.name, flags.role, password);
    if (flags.json) process.stdout.write(`${JSON.stringify(user)}\n`);
    else if (user.password) process.stdout.write(`added ${user.name} (${user.role}); password: ${user.password}\n`);
    else process.stdout.write(`added ${user.name} (${user.role})\n`);
  }
}

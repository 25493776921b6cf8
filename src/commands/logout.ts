import { removeStored } from '../client/credentials.js';
import { BaseCommand } from './base.js';

export default class Logout extends BaseCommand {
  static override summary = 'Forget the token kept by `ogent login`.';
  static override examples = ['<%= config.bin %> logout'];

  async run(): Promise<void> {
    await this.parse(Logout);
    process.stderr.write((await removeStored()) ? 'logged out\n' : 'not logged in\n');
  }
}

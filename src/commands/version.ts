import { BaseCommand } from './base.js';

/** `ogent version`, as `ogent --version` and `ogent -v`. */
export default class Version extends BaseCommand {
  static override summary = 'Print the version (as --version and -v do).';
  static override examples = ['<%= config.bin %> version'];

  async run(): Promise<void> {
    await this.parse(Version);
    process.stdout.write(`${this.config.userAgent}\n`);
  }
}

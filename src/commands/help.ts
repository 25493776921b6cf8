import { Args, Command, Flags, loadHelpClass } from '@oclif/core';

/** `ogent help [COMMAND…]`: the same help as `--help` (what @oclif/plugin-help does, without another dependency). */
export default class Help extends Command {
  static override summary = 'Show help for ogent, a topic or a command.';
  static override examples = ['<%= config.bin %> help', '<%= config.bin %> help jobs', '<%= config.bin %> help exec'];
  static override args = { command: Args.string({ description: 'Topic or command, e.g. `jobs` or `jobs wait`.' }) };
  static override flags = {
    'nested-commands': Flags.boolean({ char: 'n', summary: 'List the commands of every topic too.' }),
  };
  static override strict = false;

  async run(): Promise<void> {
    const { argv, flags } = await this.parse(Help);
    const HelpClass = await loadHelpClass(this.config);
    await new HelpClass(this.config, { all: flags['nested-commands'] }).showHelp(argv as string[]);
  }
}

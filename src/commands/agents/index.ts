import { Flags } from '@oclif/core';
import { ApiClient } from '../../client/api.js';
import { resolveSession } from '../../client/credentials.js';
import { parseSelector, select, SelectorError } from '../../domain/selector.js';
import { usageError } from '../../lib/errors.js';
import { agentsTable } from '../../ui/views.js';
import { BaseCommand, connectionFlags, jsonFlag } from '../base.js';

export default class Agents extends BaseCommand {
  static override summary = 'List agents: online or offline, labels, last seen.';
  static override examples = ['<%= config.bin %> agents', "<%= config.bin %> agents -t 'role=web' --json"];
  static override flags = {
    ...connectionFlags,
    target: Flags.string({
      char: 't',
      multiple: true,
      summary: 'Only agents matching this selector.',
      helpValue: 'SELECTOR',
    }),
    json: jsonFlag,
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Agents);
    let selector;
    try {
      selector = parseSelector(flags.target ?? []);
    } catch (err) {
      if (err instanceof SelectorError) throw usageError(err.message);
      throw err;
    }
    const agents = select(selector, await new ApiClient(await resolveSession(flags)).agents());
    process.stdout.write(flags.json ? `${JSON.stringify({ agents }, null, 2)}\n` : agentsTable(agents));
  }
}

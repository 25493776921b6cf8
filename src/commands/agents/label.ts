import { Args } from '@oclif/core';
import { ApiClient } from '../../client/api.js';
import { resolveSession } from '../../client/credentials.js';
import { usageError } from '../../lib/errors.js';
import { labelsText } from '../../ui/views.js';
import { BaseCommand, connectionFlags, jsonFlag } from '../base.js';
import { parseLabelWords } from '../label-args.js';

export default class AgentsLabel extends BaseCommand {
  static override summary = "Set or remove an agent's labels (admin); they win over the labels the agent reports.";
  static override description =
    'key=value sets a label, key- removes one (whoever set it: an agent that still reports it shows that as a ' +
    'pending change). Selectors (-t key=value) match the result at once; the change is in the audit log.';
  static override examples = [
    '<%= config.bin %> agents label db-1 role=db tier=gold',
    '<%= config.bin %> agents label web-3 role- --json',
  ];
  static override strict = false;
  static override args = {
    name: Args.string({ required: true, description: 'Agent name or id.' }),
    labels: Args.string({ description: 'key=value to set, key- to remove (one or more).' }),
  };
  static override flags = { ...connectionFlags, json: jsonFlag };

  async run(): Promise<void> {
    const { args, argv, flags } = await this.parse(AgentsLabel);
    const words = (argv as string[]).slice(1);
    if (!words.length) throw usageError('give at least one key=value or key- after the agent name');
    const { set, remove } = parseLabelWords(words, 'label', true);
    const agent = await new ApiClient(await resolveSession(flags)).labelAgent(args.name, set, remove);
    if (flags.json) process.stdout.write(`${JSON.stringify(agent, null, 2)}\n`);
    else process.stderr.write(`agent ${agent.name}: labels ${labelsText(agent.labels)}\n`);
  }
}

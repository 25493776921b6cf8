import { Args } from '@oclif/core';
import { ApiClient } from '../../client/api.js';
import { resolveSession } from '../../client/credentials.js';
import { labelsText } from '../../ui/views.js';
import { BaseCommand, connectionFlags, jsonFlag } from '../base.js';

export default class AgentsAccept extends BaseCommand {
  static override summary = 'Accept the labels and facts an agent now reports (admin): they route jobs from then on.';
  static override description =
    'An agent that reports labels or facts (hostname, os, ssh hosts…) other than those pinned at its first ' +
    'registration is marked in `ogent agents`, and `ogent agents show NAME` shows the change; until it is accepted, ' +
    'jobs are routed by the pinned ones. Labels set by an admin still win. The acceptance is in the audit log.';
  static override examples = ['<%= config.bin %> agents show web-1', '<%= config.bin %> agents accept web-1'];
  static override args = { name: Args.string({ required: true, description: 'Agent name or id.' }) };
  static override flags = { ...connectionFlags, json: jsonFlag };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(AgentsAccept);
    const agent = await new ApiClient(await resolveSession(flags)).acceptAgent(args.name);
    if (flags.json) process.stdout.write(`${JSON.stringify(agent, null, 2)}\n`);
    else process.stderr.write(`agent ${agent.name}: accepted; labels ${labelsText(agent.labels)}\n`);
  }
}

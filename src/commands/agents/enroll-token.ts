import { Flags } from '@oclif/core';
import { ApiClient } from '../../client/api.js';
import { resolveSession } from '../../client/credentials.js';
import { BaseCommand, connectionFlags, durationFlag, jsonFlag, parseDuration } from '../base.js';
import { parseLabelWords } from '../label-args.js';
import { labelsText } from '../../ui/views.js';

export default class AgentsEnrollToken extends BaseCommand {
  static override summary = 'Issue a join token (admin) that lets new hosts enroll as agents.';
  static override description =
    'Each host runs `ogent agent run --join-token TOKEN --name NAME` once: it gets its own agent identity, kept in ' +
    'its --state-dir, and needs the token no more. The token is shown once; the controller keeps only its hash. ' +
    "Its --labels are given to every agent enrolled with it and win over the agent's own --label.";
  static override examples = [
    '<%= config.bin %> agents enroll-token',
    '<%= config.bin %> agents enroll-token --ttl 2h --uses 50 --json',
    '<%= config.bin %> agents enroll-token --uses 20 --label role=db --label dc=par1',
  ];
  static override flags = {
    ...connectionFlags,
    ttl: durationFlag('How long the token can be used (at least 1m).', '24h'),
    uses: Flags.integer({ summary: 'How many agents may enroll with it.', default: 1, min: 1, max: 100_000 }),
    label: Flags.string({
      multiple: true,
      summary: "A label for every agent enrolled with it (repeatable); it wins over the agent's own --label.",
      helpValue: 'KEY=VALUE',
    }),
    json: jsonFlag,
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(AgentsEnrollToken);
    const ttlMs = parseDuration(flags.ttl as string);
    const { set: labels } = parseLabelWords(flags.label ?? [], '--label');
    if (ttlMs < 60_000) throw new RangeError('--ttl must be at least 1m');
    const api = new ApiClient(await resolveSession(flags));
    const issued = await api.enrollToken(Math.round(ttlMs / 1000), flags.uses, labels);
    if (flags.json) {
      process.stdout.write(`${JSON.stringify(issued, null, 2)}\n`);
      return;
    }
    process.stdout.write(`${issued.token}\n`);
    process.stderr.write(
      `join token ${issued.id} for ${issued.uses} agent${issued.uses === 1 ? '' : 's'}, valid until ${issued.expiresAt} (shown once)\n` +
        (issued.labels ? `  labels for its agents: ${labelsText(issued.labels)}\n` : '') +
        `  on each host: ogent agent run --controller ${api.controller} --join-token TOKEN --name NAME\n` +
        `  to revoke it: ogent agents enroll-token revoke ${issued.id.slice(0, 8)}\n`,
    );
  }
}

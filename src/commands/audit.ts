import { Flags } from '@oclif/core';
import { ApiClient } from '../client/api.js';
import { resolveSession } from '../client/credentials.js';
import { usageError } from '../lib/errors.js';
import { auditTable } from '../ui/views.js';
import { BaseCommand, connectionFlags, jsonFlag, parseDuration } from './base.js';

export default class Audit extends BaseCommand {
  static override summary = 'Show the audit log: logins, jobs, cancels, user and agent changes (admin).';
  static override description =
    'Oldest first. Each entry says who (actor), from where (client address), what (action), on which agents, and when.';
  static override examples = [
    '<%= config.bin %> audit --since 1h',
    '<%= config.bin %> audit --action login_failed --limit 20',
    '<%= config.bin %> audit --since 2026-01-31T00:00:00Z --json',
  ];
  static override flags = {
    ...connectionFlags,
    since: Flags.string({ summary: 'Only entries since then: a duration back from now (1h, 2d) or an ISO time.' }),
    limit: Flags.integer({ summary: 'At most this many (the newest).', default: 100, min: 1, max: 10_000 }),
    action: Flags.string({
      summary: 'Only this action (login, login_failed, job_create, job_cancel, user_add, user_remove, …).',
      helpValue: 'ACTION',
    }),
    json: jsonFlag,
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Audit);
    const since = flags.since === undefined ? undefined : sinceTime(flags.since);
    const entries = await new ApiClient(await resolveSession(flags)).audit({
      since,
      limit: flags.limit,
      action: flags.action,
    });
    process.stdout.write(flags.json ? `${JSON.stringify({ entries }, null, 2)}\n` : auditTable(entries));
  }
}

/** `1h` (back from now) or an ISO time, as an ISO time; anything else is a usage error. */
export function sinceTime(text: string, now = Date.now()): string {
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const t = Date.parse(text);
    if (Number.isNaN(t)) throw usageError(`invalid --since "${text}": not a valid ISO time`);
    return new Date(t).toISOString();
  }
  try {
    return new Date(now - parseDuration(text)).toISOString();
  } catch {
    throw usageError(`invalid --since "${text}": use a duration (30m, 1h, 2d) or an ISO time (2026-01-31T00:00:00Z)`);
  }
}

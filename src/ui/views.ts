import type { Agent, AuditEntry, Job } from '../domain/model.js';
import { formatDuration } from '../domain/duration.js';
import type { AgentDetails, AgentRunSummary } from '../protocol/agents.js';
import type { JobBrief } from '../protocol/job-brief.js';
import { countsText, elapsed, runOutcome } from './summary.js';
import { ago, table } from './table.js';

export const labelsText = (labels: Record<string, string>) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',') || '-';

/** What an agent reports and is held, in one line: `labels role=db; hostname db-1`. */
export function pendingText(pending: NonNullable<Agent['pending']>): string {
  const facts = Object.entries(pending.facts ?? {}).map(
    ([k, v]) => `${k} ${v === null ? '(none)' : Array.isArray(v) ? v.join(',') || '(none)' : String(v)}`,
  );
  return [...(pending.labels ? [`labels ${labelsText(pending.labels)}`] : []), ...facts].join('; ');
}

export function agentsTable(agents: Agent[]): string {
  if (!agents.length) return 'no agents yet: start one with `ogent agent run`, or the controller with --local-agent\n';
  const held = agents.some((a) => a.pending);
  const note = held
    ? '* reports labels or facts not accepted yet (they route nothing): `ogent agents show NAME`, `ogent agents accept NAME`\n'
    : '';
  return (
    table(
      ['NAME', 'STATUS', 'LABELS', 'PLATFORM', 'LAST SEEN'],
      [...agents]
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((a) => [
          a.name,
          a.status,
          `${labelsText(a.labels)}${a.pending ? ' *' : ''}`,
          a.info ? `${a.info.platform}/${a.info.arch}` : '-',
          a.status === 'online' ? 'now' : ago(a.lastSeen),
        ]),
    ) + note
  );
}

/** The agent's policy in one line: `allow /^uptime$/, deny /^rm /`, or `none (everything may run)`. */
export function policyText(policy: { allow: string[]; deny: string[] }): string {
  const rules = [...policy.allow.map((r) => `allow /${r}/`), ...policy.deny.map((r) => `deny /${r}/`)];
  return rules.length ? rules.join(', ') : 'none (everything may run)';
}

/** `agents show NAME`: facts, labels, executors, connection, then the newest runs. */
export function agentDetails(a: AgentDetails, runs: AgentRunSummary[] = []): string {
  const info = a.info;
  const c = a.connection;
  const lines = [
    ['name', a.name],
    ['id', a.id],
    ['status', a.status],
    ['connected', c ? `from ${c.address}${c.secure ? ' (TLS)' : ''} since ${c.since} (${ago(c.since)})` : '-'],
    ['last seen', a.status === 'online' ? 'now' : a.lastSeen ? `${a.lastSeen} (${ago(a.lastSeen)})` : 'never'],
    ['labels', labelsText(a.labels)],
    ...(a.adminLabels && Object.keys(a.adminLabels).length ? [['by admin', labelsText(a.adminLabels)]] : []),
    ...(a.pending
      ? [
          [
            'pending',
            `${pendingText(a.pending)} (since ${a.pending.since}; \`ogent agents accept ${a.name}\` takes it)`,
          ],
        ]
      : []),
    ...(info
      ? [
          ['hostname', info.hostname],
          ...(info.os ? [['os', info.os]] : []),
          ['platform', `${info.platform} ${info.release} (${info.arch})`],
          ['cpus', String(info.cpus)],
          ['memory', `${Math.round(info.memoryBytes / 1024 / 1024)} MiB`],
          ['uptime', formatDuration(info.uptimeS * 1000)],
          ['version', info.version],
          ['executors', info.executors.join(', ')],
          ...(info.sshHosts?.length ? [['ssh hosts', info.sshHosts.join(', ')]] : []),
          ...(info.policy ? [['policy', policyText(info.policy)]] : []),
          ...(info.runAs ? [['run as', info.runAs]] : []),
        ]
      : []),
  ];
  const facts = lines.map(([k, v]) => `${`${k}:`.padEnd(11)} ${v}`).join('\n') + '\n';
  if (!runs.length) return `${facts}\nlast runs: none\n`;
  const rows = runs.map((r) => [
    r.jobId,
    r.status,
    r.exitCode === null ? '-' : String(r.exitCode),
    r.durationMs === null ? '-' : formatDuration(r.durationMs),
    ago(r.finishedAt ?? r.startedAt ?? r.createdAt),
    r.command.replace(/\s+/g, ' ').slice(0, 60),
  ]);
  return `${facts}\nlast runs:\n${table(['JOB', 'STATUS', 'EXIT', 'DURATION', 'WHEN', 'COMMAND'], rows)}`;
}

export function jobsTable(jobs: JobBrief[]): string {
  if (!jobs.length) return 'no jobs yet\n';
  return table(
    ['ID', 'STATUS', 'CREATED', 'BY', 'RUNS', 'COMMAND'],
    jobs.map((j) => [
      j.id,
      j.status,
      ago(j.createdAt),
      j.createdBy,
      countsText(j),
      j.command.replace(/\s+/g, ' ').slice(0, 60),
    ]),
  );
}

/** `1234 bytes`, and whether the upload ended (README, Standard input). */
const stdinText = (stdin: NonNullable<Job['stdin']>) =>
  `${stdin.bytes} bytes${stdin.error ? ` (${stdin.error})` : stdin.ended ? '' : ' (not ended)'}`;

export function jobDetails(job: Job): string {
  const head = [
    `job ${job.id}  ${job.status}`,
    `command:  ${job.command}`,
    `target:   ${job.target.length ? job.target.map((t) => `-t ${t}`).join(' ') : '--all'}`,
    `by:       ${job.createdBy} at ${job.createdAt}`,
    ...(job.env && Object.keys(job.env).length ? [`env:      ${envText(job.env)}`] : []),
    ...(job.stdin ? [`stdin:    ${stdinText(job.stdin)}`] : []),
    `runs:     ${countsText(job)} in ${formatDuration(elapsed(job))}`,
    '',
  ].join('\n');
  const rows = table(
    ['AGENT', 'STATUS', 'EXIT', 'DURATION', 'LAST LINE'],
    job.runs.map((r) => [
      r.agent.name,
      // A failed run's reason (it could not start: no such --cwd…) is in the table, not only in --json.
      r.status === 'succeeded' || (r.status === 'failed' && !r.error) ? r.status : runOutcome(r),
      r.exitCode === null ? '-' : String(r.exitCode),
      r.durationMs === null ? '-' : formatDuration(r.durationMs),
      lastLine(r.stdout || r.stderr).slice(0, 80),
    ]),
  );
  return `${head}\n${rows}`;
}

/** `K=V K2=***` on one line, each value cut to 40 characters (the JSON has them whole, to those who may see them). */
function envText(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([k, v]) => {
      // Control characters (escape sequences a job's creator could aim at an admin's terminal) shown as '?'.
      // eslint-disable-next-line no-control-regex
      const flat = v.replace(/\s+/g, ' ').replace(/[\x00-\x1f\x7f-\x9f]/g, '?');
      return `${k}=${flat.length > 40 ? `${flat.slice(0, 40)}…` : flat}`;
    })
    .join(' ');
}

function lastLine(text: string): string {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  return lines.at(-1) ?? '';
}

/** `ogent audit`: one row per entry, oldest first. */
export function auditTable(entries: AuditEntry[]): string {
  if (!entries.length) return 'no audit entries\n';
  return table(
    ['AT', 'ACTOR', 'FROM', 'ACTION', 'OK', 'JOB/TARGET', 'AGENTS', 'DETAIL'],
    entries.map((e) => [
      e.at,
      e.actor,
      e.from ?? '-',
      e.action,
      e.ok ? 'yes' : 'no',
      e.jobId ?? e.target ?? '-',
      e.agents?.length
        ? e.agents.length > 3
          ? `${e.agents.slice(0, 3).join(',')},+${e.agents.length - 3}`
          : e.agents.join(',')
        : '-',
      (e.detail ?? '').replace(/\s+/g, ' ').slice(0, 60),
    ]),
  );
}

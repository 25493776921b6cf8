import { createHash, type Hash } from 'node:crypto';
import type { Job, Run } from '../domain/model.js';
import { foldNames } from '../domain/name-fold.js';
import { endingKey, groupBy, groupRuns, type OutputGroup } from '../domain/output-groups.js';
import type { JobEvents } from '../protocol/job-events.js';
import type { RunBrief } from '../protocol/events.js';
import { jobAnnouncement, type Out } from './plain.js';
import { jobSummaryLine, runOutcome } from './summary.js';

/** What a group shows of its output (bytes per stream); the whole is in `ogent jobs logs`. */
export const GROUP_OUTPUT_BYTES = 64 * 1024;

/** One stream of one run: a digest of every byte, and its first GROUP_OUTPUT_BYTES. */
class Captured {
  private readonly hash: Hash = createHash('sha256');
  private readonly head: Buffer[] = [];
  private kept = 0;
  bytes = 0;

  add(data: Buffer) {
    this.hash.update(data);
    this.bytes += data.length;
    if (this.kept < GROUP_OUTPUT_BYTES) {
      const part = data.subarray(0, GROUP_OUTPUT_BYTES - this.kept);
      this.head.push(part);
      this.kept += part.length;
    }
  }

  digest(): string {
    return this.hash.copy().digest('hex');
  }

  text(): Buffer {
    return Buffer.concat(this.head);
  }
}

interface Entry {
  run: RunBrief | Run;
  stdout: Captured;
  stderr: Captured;
}

/** `web-[1-3,7] (4)`, then how they ended when that is not success. */
export function groupHeader(group: Pick<OutputGroup, 'agents' | 'count'>, ending: string | undefined): string {
  return `${foldNames(group.agents)} (${group.count})${ending ? `: ${ending}` : ''}`;
}

const endingOf = (run: RunBrief | Run) => (run.status === 'succeeded' ? undefined : runOutcome(run));

/**
 * `--group` (README, Grouped output): prints nothing while the job runs, then one block per distinct (status, exit
 * code, stdout, stderr), largest first, headed by the folded agent names and their count, the output once (stdout on
 * stdout, stderr on stderr). Output is keyed by a digest of every byte and kept up to GROUP_OUTPUT_BYTES per
 * stream: memory stays bounded whatever the runs print. With `json`: `{id, groups}` on stdout.
 */
export class GroupRenderer implements JobEvents {
  private readonly entries = new Map<string, Entry>();
  private announced = false;

  constructor(
    private readonly json: boolean,
    private readonly stdout: Out = process.stdout,
    private readonly stderr: Out = process.stderr,
    /** `exec` in plain mode: the job's id on stderr as soon as it exists. */
    private readonly announce = false,
  ) {}

  private entry(run: RunBrief | Run): Entry {
    let e = this.entries.get(run.id);
    if (!e) this.entries.set(run.id, (e = { run, stdout: new Captured(), stderr: new Captured() }));
    else e.run = run;
    return e;
  }

  snapshot(job: Job) {
    for (const run of job.runs) this.entry(run);
    if (this.announce && !this.announced) {
      this.announced = true;
      this.stderr.write(`${jobAnnouncement(job)}\n`);
    }
  }

  output(agent: string, runId: string, stream: 'stdout' | 'stderr', data: string) {
    this.outputBytes(agent, runId, stream, Buffer.from(data));
  }

  outputBytes(_agent: string, runId: string, stream: 'stdout' | 'stderr', data: Buffer) {
    this.entries.get(runId)?.[stream].add(data);
  }

  runStatus(run: RunBrief) {
    this.entry(run);
  }

  /** The job's groups, largest first, from what was captured (runs as the final document has them). */
  groups(job: Job): { group: OutputGroup; stdout: Buffer; stderr: Buffer }[] {
    const entries = job.runs.map((run) => ({ ...this.entry(run), run }));
    const key = (e: Entry) => JSON.stringify([endingKey(e.run), e.stdout.digest(), e.stderr.digest()]);
    return groupBy(entries, key, (e) => e.run.agent.name).map((members) => {
      const { run, stdout, stderr } = members[0] as Entry;
      const truncated = stdout.bytes > GROUP_OUTPUT_BYTES || stderr.bytes > GROUP_OUTPUT_BYTES;
      const out = stdout.text();
      const err = stderr.text();
      return {
        group: {
          agents: members.map((m) => m.run.agent.name),
          count: members.length,
          status: run.status,
          exitCode: run.exitCode,
          stdout: out.toString('utf8'),
          stderr: err.toString('utf8'),
          ...(run.error ? { error: run.error } : {}),
          ...(truncated ? { truncated } : {}),
        },
        stdout: out,
        stderr: err,
      };
    });
  }

  finished(job: Job) {
    const groups = this.groups(job);
    if (this.json) {
      this.stdout.write(`${JSON.stringify({ id: job.id, groups: groups.map((g) => g.group) }, null, 2)}\n`);
      return;
    }
    for (const { group, stdout, stderr } of groups) {
      const header = groupHeader(group, endingOf(job.runs.find((r) => r.agent.name === group.agents[0]) as Run));
      const rule = '-'.repeat(Math.min(Math.max(header.length, 16), 78));
      this.stdout.write(`${rule}\n${header}\n${rule}\n`);
      this.stdout.write(endWithNewline(stdout));
      if (stderr.length) this.stderr.write(endWithNewline(stderr));
      if (group.truncated) {
        this.stderr.write(`(output cut at ${GROUP_OUTPUT_BYTES / 1024} KiB: ogent jobs logs ${job.id} AGENT)\n`);
      }
    }
    this.stderr.write(`${jobSummaryLine(job)}\n`);
  }
}

const endWithNewline = (b: Buffer) =>
  b.length && b[b.length - 1] !== 0x0a ? Buffer.concat([b, Buffer.from('\n')]) : b;

/** Groups shown under the live view's final frame; the rest are counted. */
const SUMMARY_GROUPS = 8;
/** Lines of output shown per group there. */
const SUMMARY_LINES = 3;

/**
 * What stays on a terminal when the live view ends (README, Grouped output): the groups of the job document (count,
 * folded names, first lines, how they ended), at most SUMMARY_GROUPS of them with the rest counted, so 1,000 distinct
 * outputs still take a few lines; then where to see all of it.
 */
export function groupSummaryText(job: Job, width = process.stdout.columns ?? 100): string {
  if (job.runs.length === 0) return '';
  const groups = groupRuns(job.runs);
  const cut = (s: string) => (s.length > width - 4 ? `${s.slice(0, Math.max(width - 5, 10))}…` : s);
  const lines: string[] = [];
  for (const group of groups.slice(0, SUMMARY_GROUPS)) {
    const run = job.runs.find((r) => r.agent.name === group.agents[0]) as Run;
    lines.push(cut(groupHeader(group, endingOf(run))));
    const text = (group.stdout || group.stderr).replace(/\n$/, '');
    const shown = text === '' ? [] : text.split('\n');
    for (const line of shown.slice(0, SUMMARY_LINES)) lines.push(`  ${cut(line)}`);
    if (shown.length > SUMMARY_LINES) {
      const more = shown.length - SUMMARY_LINES;
      lines.push(`  … ${more} more line${more === 1 ? '' : 's'}`);
    }
  }
  const more = groups.length - SUMMARY_GROUPS;
  if (more > 0) lines.push(`+ ${more} more group${more === 1 ? '' : 's'}`);
  lines.push(`all of it: ogent jobs show ${job.id} --group`);
  return `${lines.join('\n')}\n`;
}

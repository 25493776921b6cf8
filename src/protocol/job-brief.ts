import type { Executor, Job, JobStatus, Summary } from '../domain/model.js';

/** Characters of a job's command a brief keeps (`jobs list` shows 60). */
export const BRIEF_COMMAND_CHARS = 256;
/** Characters of a job's selectors a brief keeps, all of them together. */
export const BRIEF_TARGET_CHARS = 1024;

/**
 * A job in a list (`GET /api/v1/jobs`, `jobs list --json`): no runs, output, env or script, and the command and
 * target cut to a bounded length (flagged), so a page of the longest list stays a few MB whatever its jobs hold.
 */
export interface JobBrief {
  id: string;
  command: string;
  /** Set when `command` is the first BRIEF_COMMAND_CHARS characters of a longer one (`jobs show` has it whole). */
  commandTruncated?: true;
  executor: Executor;
  target: string[];
  targetTruncated?: true;
  status: JobStatus;
  createdBy: string;
  createdAt: string;
  finishedAt: string | null;
  summary: Summary;
}

/** The first `max` characters of `text`, not splitting a surrogate pair. */
function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  const end = /[\uD800-\uDBFF]/.test(text.charAt(max - 1)) ? max - 1 : max;
  return text.slice(0, end);
}

export function jobBriefOf(job: Job): JobBrief {
  const command = cut(job.command, BRIEF_COMMAND_CHARS);
  const target: string[] = [];
  let room = BRIEF_TARGET_CHARS;
  for (const selector of job.target) {
    if (room <= 0) break;
    target.push(cut(selector, room));
    room -= selector.length;
  }
  return {
    id: job.id,
    command,
    ...(command.length < job.command.length ? { commandTruncated: true } : {}),
    executor: job.executor,
    target,
    ...(room < 0 || target.length < job.target.length ? { targetTruncated: true } : {}),
    status: job.status,
    createdBy: job.createdBy,
    createdAt: job.createdAt,
    finishedAt: job.finishedAt,
    summary: job.summary,
  };
}

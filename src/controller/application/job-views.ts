import type { Job } from '../../domain/model.js';
import { jobBriefOf, type JobBrief } from '../../protocol/job-brief.js';
import { requireRole } from './auth-service.js';
import type { Identity } from './ports.js';

/** What a user is shown instead of an env value it may not see. */
export const REDACTED = '***';

/** Who may see a job's env values (docs/architecture.md §7.9): admins and the job's creator; everyone else sees the names. */
export type EnvView = 'values' | 'names';
export const envViewOf = (job: Pick<Job, 'createdBy'>, who: Identity): EnvView =>
  who.role === 'admin' || who.name === job.createdBy ? 'values' : 'names';

/** The job as `view` shows it: with `names`, every env value is REDACTED. */
export function jobWithEnv(job: Job, view: EnvView): Job {
  if (view === 'values' || !job.env) return job;
  return { ...job, env: Object.fromEntries(Object.keys(job.env).map((name) => [name, REDACTED])) };
}

/** The job document `who` is shown; every job document that leaves the controller for a user goes through here. */
export const jobFor = (job: Job, who: Identity): Job => jobWithEnv(job, envViewOf(job, who));

/** Jobs read from the store per page of a list: each is read whole, so a page holds this many at most in memory. */
const LIST_PAGE = 20;

/** Reading jobs as a user: whole documents for one job, briefs for lists. */
export class JobViews {
  constructor(
    private readonly jobs: {
      get(id: string): Promise<Job>;
      list(limit: number, before?: string): Promise<Job[]>;
    },
  ) {}

  async show(id: string, who: Identity): Promise<Job> {
    requireRole(who, 'viewer', 'read jobs');
    return jobFor(await this.jobs.get(id), who);
  }

  /** Newest first, older than `before` when given; briefs carry no env, so they look the same to everyone. */
  async list(who: Identity, limit: number, before?: string): Promise<JobBrief[]> {
    requireRole(who, 'viewer', 'read jobs');
    const briefs: JobBrief[] = [];
    let cursor = before;
    while (briefs.length < limit) {
      const want = Math.min(LIST_PAGE, limit - briefs.length);
      const page = await this.jobs.list(want, cursor);
      briefs.push(...page.map(jobBriefOf));
      cursor = page.at(-1)?.id;
      if (page.length < want || cursor === undefined) break;
    }
    return briefs;
  }
}

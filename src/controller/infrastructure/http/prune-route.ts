import { authorize } from '../../application/access.js';
import { badRequest } from '../../application/errors.js';
import type { JobService } from '../../application/job-service.js';
import type { Identity } from '../../application/ports.js';
import { bool, object, optional, parse, str } from '../../../protocol/validate.js';
import type { Request, Router } from './router.js';

const pruneCheck = object({ before: str({ min: 1, max: 64 }), dryRun: optional(bool) });

/**
 * `POST /api/v1/jobs/prune {before, dryRun?}` → `{removed, ids?}` (admin, audited; docs/protocol.md): removes the
 * finished jobs created before `before`, or with `dryRun` only counts them.
 */
export function addPruneRoute(router: Router, jobs: JobService, identify: (req: Request) => Promise<Identity>) {
  router.on('POST', '/api/v1/jobs/prune', async (req) => {
    const actor = await identify(req);
    authorize(actor, 'pruneJobs');
    const { before, dryRun } = parse(pruneCheck, await req.body());
    const at = Date.parse(before);
    if (Number.isNaN(at)) throw badRequest(`before must be an ISO 8601 time, got "${before}"`);
    // A time to come would remove every finished job: a slip of the keyboard, not a prune.
    if (at > Date.now()) throw badRequest(`before must be in the past, got ${new Date(at).toISOString()}`);
    return { status: 200, body: await jobs.pruneBefore(actor, { before: new Date(at).toISOString(), dryRun }) };
  });
}

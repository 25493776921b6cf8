import { randomBytes } from 'node:crypto';

/** Time-ordered ids: 9 base36 chars of milliseconds, then random; sortable as strings. */
/** The creation time an id carries (ISO), for ids made by `newId` with a one-letter prefix. */
export function createdAtOf(id: string): string {
  const ms = parseInt(id.slice(1, 10), 36);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : new Date(0).toISOString();
}

export function newId(prefix: string, now = Date.now()): string {
  const time = now.toString(36).padStart(9, '0');
  return `${prefix}${time}${randomBytes(5).toString('hex')}`;
}

/** A run id is `JOBID_INDEX`: the id of the job it belongs to. */
export const jobIdOfRun = (runId: string): string => runId.slice(0, Math.max(0, runId.lastIndexOf('_')));

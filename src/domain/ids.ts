import { randomBytes } from 'node:crypto';

/** Time-ordered ids: 9 base36 chars of milliseconds, then random; sortable as strings. */
export function newId(prefix: string, now = Date.now()): string {
  const time = now.toString(36).padStart(9, '0');
  return `${prefix}${time}${randomBytes(5).toString('hex')}`;
}

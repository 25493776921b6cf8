/** `--max-concurrency` and `--max-errors`: a count (`10`) or a share of the targeted agents (`25%`). */
export type Limit = number | `${number}%`;

const LIMIT_RE = /^(\d{1,7})(%?)$/;

export function isLimit(text: string): boolean {
  const m = LIMIT_RE.exec(text);
  return m !== null && (m[2] !== '%' || Number(m[1]) <= 100);
}

/** Parses `N` or `N%` (above zero when `positive`); throws a RangeError that says what is accepted. */
export function parseLimit(text: string, flag: string, positive = false): Limit {
  if (!isLimit(text.trim())) throw new RangeError(`invalid ${flag} "${text}": use a number (10) or a percentage (25%)`);
  const t = text.trim();
  if (positive && Number(t.replace('%', '')) === 0) {
    throw new RangeError(`invalid ${flag} "${text}": must be more than zero, or nothing would run`);
  }
  return t.endsWith('%') ? (t as `${number}%`) : Number(t);
}

/** Concurrency for `total` runs: a percentage rounds up, and at least one runs. */
export function resolveConcurrency(limit: Limit | undefined, total: number): number | undefined {
  if (limit === undefined) return undefined;
  const n = typeof limit === 'number' ? limit : Math.ceil((Number(limit.slice(0, -1)) * total) / 100);
  return Math.max(1, n);
}

/** Errors tolerated among `total` runs: a percentage rounds down (`0%`: stop at the first). */
export function resolveMaxErrors(limit: Limit | undefined, total: number): number | undefined {
  if (limit === undefined) return undefined;
  return typeof limit === 'number' ? limit : Math.floor((Number(limit.slice(0, -1)) * total) / 100);
}

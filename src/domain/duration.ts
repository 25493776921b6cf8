const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses `1500ms`, `30s`, `5m`, `1h30m`, `2d`; a bare number is seconds. Returns milliseconds (at least 1), or throws
 * a RangeError that says what is accepted and names `flag` when given.
 */
export function parseDuration(text: string, flag?: string): number {
  const input = text.trim();
  const what = flag ? `${flag} "${text}"` : `duration "${text}"`;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  // A bare number is seconds; it used to skip the check below, so `--timeout 0` reached the controller.
  const bare = /^\d+(\.\d+)?$/.test(input);
  let total = bare ? Number(input) * 1000 : 0;
  let consumed = bare ? input.length : 0;
  for (let m = bare ? null : re.exec(input); m; m = re.exec(input)) {
    total += Number(m[1]) * (UNITS[m[2] as string] as number);
    consumed = re.lastIndex;
  }
  if (input === '' || consumed !== input.length) {
    throw new RangeError(`invalid ${what}: use a number with a unit, e.g. 500ms, 30s, 5m, 1h30m, 2d`);
  }
  if (Math.round(total) < 1) throw new RangeError(`invalid ${what}: must be more than zero`);
  return Math.round(total);
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  if (m < 60) return `${m}m${s ? `${s}s` : ''}`;
  return `${Math.floor(m / 60)}h${m % 60 ? `${m % 60}m` : ''}`;
}

/** How long something lasts, in words: `1 hour`, `1.5 hours`, `30 minutes`, `20 seconds` (token validity). */
export function formatSpan(ms: number): string {
  const [n, unit] =
    ms >= 3_600_000 ? [ms / 3_600_000, 'hour'] : ms >= 60_000 ? [ms / 60_000, 'minute'] : [ms / 1000, 'second'];
  const rounded = Math.round(n * 10) / 10;
  return `${rounded} ${unit}${rounded === 1 ? '' : 's'}`;
}

/**
 * A point in time given as a date (`2026-01-01`, any ISO 8601 time) or as how long before `now` (`90d`, `12h`), as
 * an ISO time. A bare number is refused (days? seconds?); a RangeError says what is accepted and names `flag`.
 */
export function parseTimeOrAgo(text: string, now: number, flag: string): string {
  const input = text.trim();
  const hint = `give a date (e.g. 2026-01-01) or how long ago (e.g. 90d, 12h)`;
  if (/^\d+(\.\d+)?$/.test(input)) throw new RangeError(`invalid ${flag} "${text}": a number needs a unit: ${hint}`);
  if (/^[\d.]+(ms|s|m|h|d)/.test(input)) return new Date(now - parseDuration(input, flag)).toISOString();
  const at = Date.parse(input);
  if (Number.isNaN(at)) throw new RangeError(`invalid ${flag} "${text}": ${hint}`);
  return new Date(at).toISOString();
}

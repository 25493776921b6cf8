const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses `1500ms`, `30s`, `5m`, `1h30m`, `2d`; a bare number is seconds.
 * Returns milliseconds, or throws a RangeError that says what is accepted.
 */
export function parseDuration(text: string): number {
  const input = text.trim();
  if (/^\d+(\.\d+)?$/.test(input)) return Math.round(Number(input) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(input); m; m = re.exec(input)) {
    total += Number(m[1]) * (UNITS[m[2] as string] as number);
    consumed = re.lastIndex;
  }
  if (input === '' || consumed !== input.length) {
    throw new RangeError(`invalid duration "${text}": use a number with a unit, e.g. 500ms, 30s, 5m, 1h30m, 2d`);
  }
  if (total <= 0) throw new RangeError(`invalid duration "${text}": must be more than zero`);
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

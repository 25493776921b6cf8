/**
 * Styles the live view uses; every one is off without colour (`NO_COLOR`, `TERM=dumb`, a terminal without colours).
 * No React in this module: plain commands import `colorWanted` without loading it.
 */
export interface Theme {
  color: boolean;
  ok?: 'green';
  bad?: 'red';
  busy?: 'yellow';
  accent?: 'cyan';
  /** Secondary text (last output lines, hints). */
  dim: boolean;
  bold: boolean;
  /** The selected row. */
  inverse: boolean;
}

export function theme(color: boolean): Theme {
  return color
    ? { color, ok: 'green', bad: 'red', busy: 'yellow', accent: 'cyan', dim: true, bold: true, inverse: true }
    : { color, dim: false, bold: false, inverse: false };
}

/** Colour only on a terminal that shows it, and never when `NO_COLOR` is set (https://no-color.org). */
export function colorWanted(env: NodeJS.ProcessEnv, stdout: { hasColors?: (count?: number) => boolean }): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR === '0' || env.FORCE_COLOR === 'false') return false;
  if (env.TERM === 'dumb') return false;
  return stdout.hasColors?.() ?? true;
}

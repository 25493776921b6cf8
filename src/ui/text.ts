/* eslint-disable no-control-regex -- these match the escapes and control characters a command may print */
const ESCAPES =
  /\u001B(?:\[[0-?]*[ -/]*[@-~]|\][^\u0007\u001B]*(?:\u0007|\u001B\\)?|[@-Z\\-_])|\u009B[0-?]*[ -/]*[@-~]/g;
const CONTROLS = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/g;
/* eslint-enable no-control-regex */

/** A line of a command's output made safe to show inside the view: what a terminal would leave visible, no escapes. */
export function displayLine(line: string): string {
  let text = line.includes('\u001B') || line.includes('\u009B') ? line.replace(ESCAPES, '') : line;
  // A carriage return redraws the line (progress bars): keep what was drawn last.
  if (text.includes('\r')) text = text.split('\r').findLast((part) => part !== '') ?? '';
  return text.replace(/\t/g, '  ').replace(CONTROLS, '');
}

/** `s` cut to `width` characters with `…` (agent names, ids and labels are ASCII, one column a character). */
export function fit(s: string, width: number): string {
  if (width <= 0) return '';
  if (s.length <= width) return s;
  return width === 1 ? '…' : `${s.slice(0, width - 1)}…`;
}

/** `s` cut or padded to exactly `width` characters. */
export function cell(s: string, width: number): string {
  return fit(s, width).padEnd(width);
}

/** `1.2s`, `45s`, `3m05s`, `2h04m`: short enough for a column of six. */
export function shortDuration(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  if (s < 10) return `${s.toFixed(1)}s`;
  if (s < 60) return `${Math.floor(s)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** The selector as it was typed: `-t 'web-*' -t '!web-3'`, or `--all`. */
export function selectorText(target: readonly string[]): string {
  if (!target.length) return '--all';
  return target.map((t) => `-t ${/^[A-Za-z0-9_.,=-]+$/.test(t) ? t : `'${t}'`}`).join(' ');
}

/** What a benchmark reports: named figures, each with its spread, its floor from the same run and its goal. */

export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

export interface Figure {
  /** Stable name in the JSON object, `bench.what` (e.g. `roundtrip.exec_ms`). */
  key: string;
  label: string;
  unit: string;
  value: Spread;
  floor?: { label: string; value: Spread };
  /** Goal as text, and whether this run met it. */
  goal?: { text: string; met: boolean };
}

export function spread(samples: number[]): Spread {
  if (!samples.length) return { median: NaN, min: NaN, max: NaN, n: 0 };
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { median, min: sorted[0] as number, max: sorted.at(-1) as number, n: sorted.length };
}

export const one = (value: number): Spread => spread([value]);

/** The p-th percentile (0..100) of samples, nearest rank. */
export function percentile(samples: number[], p: number): number {
  if (!samples.length) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

export const ratio = (f: Figure): number | undefined =>
  f.floor && f.floor.value.median > 0 ? f.value.median / f.floor.value.median : undefined;

const fmt = (n: number): string =>
  !Number.isFinite(n) ? '-' : Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2);

const spreadText = (s: Spread, unit: string) =>
  s.n > 1 ? `${fmt(s.median)} ${unit} (${fmt(s.min)}–${fmt(s.max)}, n=${s.n})` : `${fmt(s.median)} ${unit}`;

/** The human table: one row per figure. */
export function table(figures: Figure[]): string {
  const rows = figures.map((f) => {
    const r = ratio(f);
    return [
      f.label,
      spreadText(f.value, f.unit),
      f.floor ? `${f.floor.label}: ${spreadText(f.floor.value, f.unit)}` : '',
      r === undefined ? '' : `${r.toFixed(2)}×`,
      f.goal ? `${f.goal.text} ${f.goal.met ? '✔ met' : '✖ missed'}` : '',
    ];
  });
  const head = ['figure', 'median (min–max)', 'floor, same run', 'ratio', 'goal'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] as number))
      .join('  ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n') + '\n';
}

/** The JSON object: figures by key. */
export function asJson(figures: Figure[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of figures) {
    const r = ratio(f);
    out[f.key] = {
      unit: f.unit,
      ...f.value,
      ...(f.floor ? { floor: { label: f.floor.label, ...f.floor.value } } : {}),
      ...(r === undefined ? {} : { ratio: Number(r.toFixed(3)) }),
      ...(f.goal ? { goal: f.goal.text, met: f.goal.met } : {}),
    };
  }
  return out;
}

/** The same as `table`, as a Markdown table (for BENCHMARKS.md). */
export function markdown(figures: Figure[]): string {
  const cell = (t: string) => t.replace(/\|/g, '\\|');
  const rows = figures.map((f) => {
    const r = ratio(f);
    return [
      cell(f.label.trim()),
      spreadText(f.value, f.unit),
      f.floor ? cell(`${f.floor.label}: ${spreadText(f.floor.value, f.unit)}`) : '',
      r === undefined ? '' : `${r.toFixed(2)}×`,
      f.goal ? `${f.goal.text}: **${f.goal.met ? 'met' : 'missed'}**` : '',
    ];
  });
  return [
    '| figure | median (min–max) | floor, same run | ratio | goal |',
    '|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n') + '\n';
}

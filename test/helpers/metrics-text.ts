/**
 * A strict reader of the Prometheus text exposition format (version 0.0.4), for tests: throws on anything a
 * Prometheus server would refuse (bad names, labels, values, a sample before its TYPE, a family twice, histograms
 * whose buckets do not add up).
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
export interface Family {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const SUFFIXES: Record<string, string[]> = {
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
  counter: ['', '_total'],
};

function parseValue(text: string, line: number): number {
  const t = text.toLowerCase();
  if (t === 'nan') return NaN;
  if (t === '+inf' || t === 'inf') return Infinity;
  if (t === '-inf') return -Infinity;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`line ${line}: bad value "${text}"`);
  return Number(text);
}

function parseLabels(text: string, line: number): Record<string, string> {
  const labels: Record<string, string> = {};
  let rest = text.trim();
  while (rest) {
    const m = /^([^=\s]+)\s*=\s*"((?:[^"\\\n]|\\[\\"n])*)"\s*(,\s*)?/.exec(rest);
    if (!m?.[1] || m[2] === undefined) throw new Error(`line ${line}: bad labels {${text}}`);
    if (!LABEL.test(m[1])) throw new Error(`line ${line}: bad label name "${m[1]}"`);
    if (m[1] in labels) throw new Error(`line ${line}: label ${m[1]} twice`);
    labels[m[1]] = m[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    rest = rest.slice(m[0].length);
    if (rest && !m[3]) throw new Error(`line ${line}: missing comma in {${text}}`);
  }
  return labels;
}

export function parsePrometheusText(text: string): Map<string, Family> {
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  const families = new Map<string, Family>();
  let current: Family | undefined;
  const familyOf = (sample: string): Family | undefined => {
    if (current) {
      const suffixes = SUFFIXES[current.type] ?? [''];
      if (suffixes.some((s) => sample === current?.name + s)) return current;
    }
    return undefined;
  };
  text
    .slice(0, -1)
    .split('\n')
    .forEach((raw, i) => {
      const line = i + 1;
      if (raw.trim() === '') return;
      const meta = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s+(.*))?$/.exec(raw);
      if (meta) {
        const [, kind, name = '', rest = ''] = meta;
        if (!NAME.test(name)) throw new Error(`line ${line}: bad metric name "${name}"`);
        let family = families.get(name);
        if (!family) {
          family = { name, type: 'untyped', help: '', samples: [] };
          families.set(name, family);
        } else if (family !== current) {
          throw new Error(`line ${line}: family ${name} appears twice`);
        }
        current = family;
        if (kind === 'TYPE') {
          if (!TYPES.has(rest)) throw new Error(`line ${line}: bad type "${rest}"`);
          if (family.samples.length) throw new Error(`line ${line}: TYPE after samples of ${name}`);
          family.type = rest as Family['type'];
        } else family.help = rest;
        return;
      }
      if (raw.startsWith('#')) return;
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+(-?\d+))?$/.exec(raw);
      if (!m?.[1] || !m[3]) throw new Error(`line ${line}: not a sample: ${raw}`);
      const family = familyOf(m[1]);
      if (!family) throw new Error(`line ${line}: sample ${m[1]} without its # TYPE`);
      family.samples.push({ name: m[1], labels: parseLabels(m[2] ?? '', line), value: parseValue(m[3], line) });
    });
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family);
  return families;
}

/** Buckets cumulative and ending in +Inf, which equals _count, per label set. */
function checkHistogram(family: Family): void {
  const series = new Map<string, Sample[]>();
  const keyOf = (labels: Record<string, string>) =>
    JSON.stringify(
      Object.entries(labels)
        .filter(([k]) => k !== 'le')
        .sort(),
    );
  for (const s of family.samples) {
    const key = keyOf(s.labels);
    series.set(key, [...(series.get(key) ?? []), s]);
  }
  for (const [key, samples] of series) {
    const buckets = samples.filter((s) => s.name.endsWith('_bucket'));
    const count = samples.find((s) => s.name.endsWith('_count'));
    if (!buckets.length || !count) throw new Error(`${family.name}${key}: buckets or _count missing`);
    let previous = -Infinity;
    let last = 0;
    for (const b of buckets) {
      const le = parseValue(b.labels.le ?? '', 0);
      if (!(le > previous)) throw new Error(`${family.name}${key}: buckets out of order`);
      if (b.value < last) throw new Error(`${family.name}${key}: buckets not cumulative`);
      previous = le;
      last = b.value;
    }
    if (previous !== Infinity) throw new Error(`${family.name}${key}: no +Inf bucket`);
    if (last !== count.value) throw new Error(`${family.name}${key}: +Inf bucket ${last} != _count ${count.value}`);
  }
}

/** The value of one sample (`name` with exactly these labels), or undefined. */
export function sampleValue(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const family of families.values()) {
    for (const s of family.samples) {
      if (s.name !== name) continue;
      const keys = Object.keys(s.labels);
      if (keys.length === Object.keys(labels).length && keys.every((k) => s.labels[k] === labels[k])) return s.value;
    }
  }
  return undefined;
}

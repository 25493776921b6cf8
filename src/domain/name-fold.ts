/**
 * Folds agent names for a header, as ClusterShell's nodesets do: `web-1 web-2 web-3 web-7` → `web-[1-3,7]`. The last
 * run of digits in a name folds; zero-padded numbers fold with their width (`node[01-12]`); names without digits are
 * listed as they are. Pure.
 */

interface Parsed {
  prefix: string;
  digits: string;
  suffix: string;
}

const NUMBERED = /^(.*?)(\d+)(\D*)$/;

function parse(name: string): Parsed | undefined {
  const m = NUMBERED.exec(name);
  return m ? { prefix: m[1] ?? '', digits: m[2] ?? '', suffix: m[3] ?? '' } : undefined;
}

/** A number is padded when it has a leading zero and more than one digit (`01`); its width then matters. */
const padded = (digits: string) => digits.length > 1 && digits.startsWith('0');

/** `1-3,7` from sorted distinct numbers, each written at `width` (0: as is). */
function ranges(numbers: number[], width: number): string {
  const show = (n: number) => String(n).padStart(width, '0');
  const parts: string[] = [];
  for (let i = 0; i < numbers.length;) {
    let j = i;
    while (j + 1 < numbers.length && numbers[j + 1] === (numbers[j] ?? 0) + 1) j++;
    const first = numbers[i] ?? 0;
    const last = numbers[j] ?? 0;
    parts.push(j === i ? show(first) : j === i + 1 ? `${show(first)},${show(last)}` : `${show(first)}-${show(last)}`);
    i = j + 1;
  }
  return parts.join(',');
}

/**
 * The names folded into a list of patterns, sorted: `["db-1", "web-[1-3,7]", "lb"]`. Numbers too long to be exact
 * as a double (over 15 digits) are not folded.
 */
export function foldNamesList(names: readonly string[]): string[] {
  const plain: string[] = [];
  // (prefix, suffix) → width (0: unpadded) → numbers
  const buckets = new Map<string, { prefix: string; suffix: string; widths: Map<number, Set<number>> }>();
  for (const name of new Set(names)) {
    const p = parse(name);
    if (!p || p.digits.length > 15) {
      plain.push(name);
      continue;
    }
    const key = `${p.prefix}\u0000${p.suffix}`;
    let bucket = buckets.get(key);
    if (!bucket) buckets.set(key, (bucket = { prefix: p.prefix, suffix: p.suffix, widths: new Map() }));
    const width = padded(p.digits) ? p.digits.length : 0;
    let set = bucket.widths.get(width);
    if (!set) bucket.widths.set(width, (set = new Set()));
    set.add(Number(p.digits));
  }
  const out: { sortKey: string; text: string }[] = plain.map((n) => ({ sortKey: n, text: n }));
  for (const { prefix, suffix, widths } of buckets.values()) {
    // Unpadded numbers as wide as a padded set (node10 beside node01) join that set.
    const unpadded = widths.get(0);
    if (unpadded) {
      for (const n of [...unpadded]) {
        const set = widths.get(String(n).length);
        if (String(n).length > 1 && set) {
          set.add(n);
          unpadded.delete(n);
        }
      }
      if (unpadded.size === 0) widths.delete(0);
    }
    for (const [width, set] of [...widths].sort((a, b) => a[0] - b[0])) {
      const numbers = [...set].sort((a, b) => a - b);
      const first = numbers[0] ?? 0;
      const text =
        numbers.length === 1
          ? `${prefix}${String(first).padStart(width, '0')}${suffix}`
          : `${prefix}[${ranges(numbers, width)}]${suffix}`;
      out.push({ sortKey: `${prefix}${String(first).padStart(16, '0')}${suffix}`, text });
    }
  }
  return out.sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0)).map((o) => o.text);
}

/** The names folded into one line: `db-1,web-[1-3,7]`. */
export const foldNames = (names: readonly string[]): string => foldNamesList(names).join(',');

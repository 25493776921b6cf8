/**
 * Name globs (`*` any run of characters, `?` one character, `[a-c9]` / `[!0-3]` one character of a class, everything
 * else literal), matched without backtracking: the greedy two-pointer algorithm goes back only to the last star, so a
 * match costs at most the text's length times the pattern's. A RegExp built from the glob backtracked exponentially:
 * `*?` fourteen times then `Z` froze the controller for 18 s against one agent name, and each `*?` more tripled it.
 * A `[` without its `]` is a literal. Characters are UTF-16 code units. Pure.
 */
export interface Glob {
  readonly source: string;
  matches(text: string): boolean;
}

/** One position of the pattern: a star, or a test of one character. */
type Token = null | ((c: number) => boolean);

/** `[…]` from `i` (at the `[`): the test and the index after `]`, or undefined when it is not closed. */
function charClass(source: string, i: number): { test: (c: number) => boolean; next: number } | undefined {
  let j = i + 1;
  const negate = source[j] === '!' || source[j] === '^';
  if (negate) j++;
  const ranges: [number, number][] = [];
  // A `]` right after `[` or `[!` is a member, as in shells.
  for (let first = true; j < source.length && (first || source[j] !== ']'); first = false) {
    const lo = source.charCodeAt(j);
    if (source[j + 1] === '-' && j + 2 < source.length && source[j + 2] !== ']') {
      ranges.push([lo, source.charCodeAt(j + 2)]);
      j += 3;
    } else {
      ranges.push([lo, lo]);
      j++;
    }
  }
  if (j >= source.length) return undefined;
  return { test: (c) => ranges.some(([lo, hi]) => c >= lo && c <= hi) !== negate, next: j + 1 };
}

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  for (let i = 0; i < source.length;) {
    const ch = source[i];
    if (ch === '*') {
      // Runs of stars are one star.
      if (tokens[tokens.length - 1] !== null || tokens.length === 0) tokens.push(null);
      i++;
    } else if (ch === '?') {
      tokens.push(() => true);
      i++;
    } else if (ch === '[' && charClass(source, i)) {
      const cls = charClass(source, i);
      if (cls) {
        tokens.push(cls.test);
        i = cls.next;
      }
    } else {
      const code = source.charCodeAt(i);
      tokens.push((c) => c === code);
      i++;
    }
  }
  return tokens;
}

export function compileGlob(source: string): Glob {
  const tokens = tokenize(source);
  // A text shorter than the tokens that are not stars cannot match.
  const fixed = tokens.filter((t) => t !== null).length;
  const first = tokens.indexOf(null);
  if (first < 0) return { source, matches: (text) => text.length === fixed && same(tokens, 0, text, 0, fixed) };
  // What comes before the first star and after the last is checked in place first: `*-web` fails at a glance.
  const last = tokens.lastIndexOf(null);
  const tail = tokens.length - last - 1;
  return {
    source,
    matches: (text) =>
      text.length >= fixed &&
      same(tokens, 0, text, 0, first) &&
      same(tokens, last + 1, text, text.length - tail, tail) &&
      between(tokens, first, last + 1, text, first, text.length - tail),
  };
}

/** `count` tokens from `p` (none a star) match the text from `t`. */
function same(tokens: Token[], p: number, text: string, t: number, count: number): boolean {
  for (let i = 0; i < count; i++) {
    if (!tokens[p + i]?.(text.charCodeAt(t + i))) return false;
  }
  return true;
}

/** The greedy two-pointer match of tokens[p, pEnd), which starts with a star, on text[t, tEnd). */
function between(tokens: Token[], p: number, pEnd: number, text: string, t: number, tEnd: number): boolean {
  /** Where the last star was in the pattern (-1: none yet), and the text position it is tried to stop at. */
  let star = -1;
  let resume = t;
  while (t < tEnd) {
    const token = p < pEnd ? tokens[p] : undefined;
    if (token === null) {
      star = p++;
      // A star that ends the pattern takes the rest of the text.
      if (p === pEnd) return true;
      resume = t;
    } else if (token?.(text.charCodeAt(t))) {
      p++;
      t++;
    } else if (star >= 0) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pEnd && tokens[p] === null) p++;
  return p === pEnd;
}

/**
 * Name globs (`*` any run of characters, `?` one character, everything else literal), matched without backtracking:
 * the greedy two-pointer algorithm goes back only to the last star, so a match costs at most the text's length times
 * the pattern's. A RegExp built from the glob backtracked exponentially: `*?` fourteen times then `Z` froze the
 * controller for 18 s against one agent name, and each `*?` more tripled it. Pure.
 */
export interface Glob {
  readonly source: string;
  matches(text: string): boolean;
}

const STAR = 0x2a;
const ANY = 0x3f;

export function compileGlob(source: string): Glob {
  // Runs of stars are one star; a text shorter than the characters that are not stars cannot match.
  const pattern = source.replace(/\*+/g, '*');
  const fixed = pattern.length - (pattern.match(/\*/g)?.length ?? 0);
  const first = pattern.indexOf('*');
  if (first < 0) return { source, matches: (text) => text.length === fixed && same(pattern, 0, text, 0, fixed) };
  // What comes before the first star and after the last is checked in place first: `*-web` fails at a glance.
  const last = pattern.lastIndexOf('*');
  const tail = pattern.length - last - 1;
  return {
    source,
    matches: (text) =>
      text.length >= fixed &&
      same(pattern, 0, text, 0, first) &&
      same(pattern, last + 1, text, text.length - tail, tail) &&
      between(pattern, first, last + 1, text, first, text.length - tail),
  };
}

/** `count` characters of the pattern from `p` match the text from `t` (`?` takes any). */
function same(pattern: string, p: number, text: string, t: number, count: number): boolean {
  for (let i = 0; i < count; i++) {
    const c = pattern.charCodeAt(p + i);
    if (c !== ANY && c !== text.charCodeAt(t + i)) return false;
  }
  return true;
}

/**
 * The greedy two-pointer match of pattern[p, pEnd), which starts with a star, on text[t, tEnd). Characters are UTF-16
 * code units, as the RegExp's `.` was: `?` takes one.
 */
function between(pattern: string, p: number, pEnd: number, text: string, t: number, tEnd: number): boolean {
  /** Where the last star was in the pattern (-1: none yet), and the text position it is tried to stop at. */
  let star = -1;
  let resume = t;
  while (t < tEnd) {
    const c = p < pEnd ? pattern.charCodeAt(p) : -1;
    if (c === STAR) {
      star = p++;
      // A star that ends the pattern takes the rest of the text.
      if (p === pEnd) return true;
      resume = t;
    } else if (c !== -1 && (c === ANY || c === text.charCodeAt(t))) {
      p++;
      t++;
    } else if (star >= 0) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pEnd && pattern.charCodeAt(p) === STAR) p++;
  return p === pEnd;
}

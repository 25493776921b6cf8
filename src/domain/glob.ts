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
  let fixed = 0;
  for (let i = 0; i < pattern.length; i++) if (pattern.charCodeAt(i) !== STAR) fixed++;
  return {
    source,
    matches: (text) => text.length >= fixed && matchGlob(pattern, text),
  };
}

/** Characters are UTF-16 code units, as the RegExp's `.` was: `?` takes one. */
function matchGlob(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  /** Where the last star was in the pattern (-1: none yet), and the text position it is tried to stop at. */
  let star = -1;
  let resume = 0;
  while (t < text.length) {
    const c = p < pattern.length ? pattern.charCodeAt(p) : -1;
    if (c === STAR) {
      star = p++;
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
  while (p < pattern.length && pattern.charCodeAt(p) === STAR) p++;
  return p === pattern.length;
}

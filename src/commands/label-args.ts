import { labelKeyCheck, labelsCheck } from '../protocol/events.js';
import { parse } from '../protocol/validate.js';
import { usageError } from '../lib/errors.js';

/**
 * `k=v` words (labels to set) and, where `removable`, `k-` words (keys to remove, as kubectl's), checked as the
 * controller checks them; a bad word is a usage error (exit 2) naming it.
 */
export function parseLabelWords(
  words: readonly string[],
  what: string,
  removable = false,
): { set: Record<string, string>; remove: string[] } {
  const set: Record<string, string> = {};
  const remove: string[] = [];
  for (const word of words) {
    const eq = word.indexOf('=');
    if (removable && eq < 0 && word.endsWith('-')) {
      remove.push(word.slice(0, -1));
      continue;
    }
    if (eq <= 0) throw usageError(`invalid ${what} "${word}": use key=value${removable ? ' (or key- to remove)' : ''}`);
    set[word.slice(0, eq)] = word.slice(eq + 1);
  }
  try {
    parse(labelsCheck, set);
    for (const key of remove) labelKeyCheck(key, `key "${key}"`);
  } catch (err) {
    throw usageError(`invalid ${what}: ${(err as Error).message}`);
  }
  return { set, remove };
}

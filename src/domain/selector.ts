import { compileGlob, type Glob } from './glob.js';
import type { AgentInfo } from './model.js';

/**
 * Selectors (README, `ogent exec`): `-t` takes comma-separated terms, any of which may match (OR);
 * repeated `-t` must all match (AND). A term is a name/id glob or `key=value` (value may be a glob),
 * either prefixed with `!` (NOT). `key=value` matches the label `key`, or, when there is no such label, the fact
 * `key` of `agent_info` (FACT_KEYS).
 */

export type Term =
  | { kind: 'name'; negate: boolean; pattern: Glob; source: string }
  | { kind: 'label'; negate: boolean; key: string; value: Glob; source: string; folded: Glob };

/** Outer array: AND of groups; inner: OR of terms. */
export type Selector = Term[][];

export interface Selectable {
  id: string;
  name: string;
  labels: Record<string, string>;
  /** What the agent reported (facts pinned as docs/architecture.md §7.8 says); targets that are not agents have none. */
  info?: AgentInfo | null;
}

/** The facts of `agent_info` a `key=value` term matches when the target has no label `key`. */
export const FACT_KEYS = ['platform', 'arch', 'distro', 'os', 'hostname', 'version'] as const;
type FactKey = (typeof FACT_KEYS)[number];
const isFact = (key: string): key is FactKey => (FACT_KEYS as readonly string[]).includes(key);

/** The fact `key` of a target without a label `key` (undefined: it has the label, or no such fact). */
function factOf(target: Selectable, key: string): string | undefined {
  if (target.labels[key] !== undefined || !isFact(key)) return undefined;
  return target.info?.[key] ?? undefined;
}

export class SelectorError extends Error {
  override name = 'SelectorError';
}

const NAME_RE = /^[A-Za-z0-9_.*?[\]!^-]+$/;

/**
 * Terms with a wildcard in one selector (all `-t` together). Each costs up to its length times an agent's name or
 * label value per agent; 11,000 of them (64 selectors of `*-*a*,…`) held the controller 15 s against 1,000 agents.
 * Terms without a wildcard (a list of host names) are not counted: each is one comparison.
 */
export const MAX_WILDCARD_TERMS = 64;
const KEY_RE = /^[A-Za-z0-9_./-]+$/;

function parseTerm(raw: string, expression: string): Term {
  const source = raw.trim();
  const negate = source.startsWith('!');
  const body = negate ? source.slice(1) : source;
  if (body === '') throw new SelectorError(`empty term in selector "${expression}"`);
  const eq = body.indexOf('=');
  if (eq >= 0) {
    const key = body.slice(0, eq);
    const value = body.slice(eq + 1);
    if (!KEY_RE.test(key)) throw new SelectorError(`invalid label key "${key}" in selector "${expression}"`);
    if (value === '' || value.includes('=') || /[\s,]/.test(value)) {
      throw new SelectorError(`invalid label value "${value}" in selector "${expression}": use key=value`);
    }
    return { kind: 'label', negate, key, value: compileGlob(value), folded: compileGlob(value.toLowerCase()), source };
  }
  if (!NAME_RE.test(body)) {
    throw new SelectorError(
      `invalid term "${source}" in selector "${expression}": use a name glob (web-*) or a label (role=web)`,
    );
  }
  return { kind: 'name', negate, pattern: compileGlob(body), source };
}

/** Parses the values of repeated `-t` flags. Throws SelectorError on bad input. */
export function parseSelector(expressions: readonly string[]): Selector {
  const selector = expressions.map((expression) => {
    if (expression.trim() === '') throw new SelectorError('empty selector: pass a name glob or key=value');
    return expression.split(',').map((raw) => parseTerm(raw, expression));
  });
  const wildcards = selector.flat().filter((term) => /[*?]/.test(term.source)).length;
  if (wildcards > MAX_WILDCARD_TERMS) {
    throw new SelectorError(
      `too many terms with * or ? (${wildcards}): at most ${MAX_WILDCARD_TERMS} in one selector; name hosts without wildcards instead`,
    );
  }
  return selector;
}

function termMatches(term: Term, agent: Selectable): boolean {
  let hit: boolean;
  if (term.kind === 'name') hit = term.pattern.matches(agent.name) || term.pattern.matches(agent.id);
  else {
    const value = agent.labels[term.key];
    // Facts are free text (`Debian GNU/Linux 12 (bookworm)`): matched ignoring case; labels exactly.
    const fact = value === undefined ? factOf(agent, term.key) : undefined;
    hit =
      value !== undefined ? term.value.matches(value) : fact !== undefined && term.folded.matches(fact.toLowerCase());
  }
  return term.negate ? !hit : hit;
}

export function matches(selector: Selector, agent: Selectable): boolean {
  return selector.every((group) => group.some((term) => termMatches(term, agent)));
}

export function select<T extends Selectable>(selector: Selector, agents: readonly T[]): T[] {
  return agents.filter((agent) => matches(selector, agent));
}

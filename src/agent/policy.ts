import { quoteArgv } from '../domain/job-spec.js';
import type { ExecutorRequest } from './executors/executor.js';

/** The agent's command policy as rules (regular expressions' source text), as `agent_info` shows it. */
export interface PolicyRules {
  allow: string[];
  deny: string[];
}

/** Bounds that keep `agent_info` valid (protocol/events.ts). */
export const POLICY_LIMITS = { rules: 256, chars: 1024 } as const;

export class PolicyError extends Error {
  override name = 'PolicyError';
}

/**
 * What a rule is matched against, per executor (README, "Agent policy"): the command line for `shell` and `ssh`;
 * for `exec`, the argv quoted back into one line as a POSIX shell reads it (`rm -rf '/my dir'`); for `script`, the
 * script's whole text, then its arguments on a last line, quoted the same way. Computed here, on the agent, from what
 * will run: never from a field the controller could set apart from it.
 */
export function policySubject(executor: string, request: ExecutorRequest): string {
  switch (executor) {
    case 'exec':
      return quoteArgv(request.args ?? []);
    case 'script': {
      const args = request.args ?? [];
      return args.length ? `${request.script ?? ''}\n${quoteArgv(args)}` : (request.script ?? '');
    }
    default:
      return request.command;
  }
}

const compile = (kind: 'allow' | 'deny', source: string): RegExp => {
  if (source.length === 0) throw new PolicyError(`--${kind}: an empty regular expression would match everything`);
  if (source.length > POLICY_LIMITS.chars) {
    throw new PolicyError(`--${kind} "${source.slice(0, 40)}…": at most ${POLICY_LIMITS.chars} characters`);
  }
  try {
    return new RegExp(source);
  } catch (err) {
    throw new PolicyError(`--${kind} "${source}" is not a valid regular expression: ${(err as Error).message}`);
  }
};

/**
 * `--allow` / `--deny`: deny wins over allow; when any allow rule is given, a command must match one of them.
 * JavaScript regular expressions, unanchored, no flags: `^rm ` anchors to the start of the subject.
 */
export class CommandPolicy {
  private readonly allow: RegExp[];
  private readonly deny: RegExp[];

  /** Throws PolicyError for an invalid or empty expression, or too many rules. */
  constructor(readonly rules: PolicyRules) {
    if (rules.allow.length + rules.deny.length > POLICY_LIMITS.rules) {
      throw new PolicyError(`at most ${POLICY_LIMITS.rules} --allow and --deny rules in all`);
    }
    this.allow = rules.allow.map((r) => compile('allow', r));
    this.deny = rules.deny.map((r) => compile('deny', r));
  }

  /** Why `subject` is refused, or undefined when it may run. */
  refuse(subject: string): string | undefined {
    const denied = this.deny.find((re) => re.test(subject));
    if (denied) return `refused by the agent's policy: matches --deny ${JSON.stringify(denied.source)}`;
    if (this.allow.length && !this.allow.some((re) => re.test(subject))) {
      return "refused by the agent's policy: matches no --allow rule";
    }
    return undefined;
  }
}

/**
 * A policy file (`agent run --policy FILE`): JSON `{"allow": [...], "deny": [...]}` when it starts with `{`;
 * otherwise lines `allow RE` / `deny RE` (one space after the word; the rest of the line is the expression, spaces
 * included), blank lines and `#` comments ignored. Throws PolicyError naming the file and line.
 */
export function parsePolicyFile(text: string, file: string): PolicyRules {
  if (text.trimStart().startsWith('{')) {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new PolicyError(`policy file ${file} is not valid JSON: ${(err as Error).message}`);
    }
    const list = (key: 'allow' | 'deny'): string[] => {
      const value = (doc as Record<string, unknown>)[key];
      if (value === undefined) return [];
      if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
        throw new PolicyError(`policy file ${file}: "${key}" must be an array of strings`);
      }
      return value as string[];
    };
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
      throw new PolicyError(`policy file ${file} must hold an object {"allow": [...], "deny": [...]}`);
    }
    const unknown = Object.keys(doc).filter((k) => k !== 'allow' && k !== 'deny');
    if (unknown.length) throw new PolicyError(`policy file ${file}: unknown key "${unknown[0]}" (allow, deny)`);
    return { allow: list('allow'), deny: list('deny') };
  }
  const rules: PolicyRules = { allow: [], deny: [] };
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    const m = /^\s*(allow|deny) (.+)$/.exec(line);
    if (!m)
      throw new PolicyError(`policy file ${file}, line ${i + 1}: expected "allow RE" or "deny RE", got "${line}"`);
    rules[m[1] as 'allow' | 'deny'].push(m[2] as string);
  });
  return rules;
}

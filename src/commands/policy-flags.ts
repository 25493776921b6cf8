import { readFile } from 'node:fs/promises';
import type { PolicyRules } from '../agent/policy.js';
import { StartupError, UserError, usageError } from '../lib/errors.js';

/** `--allow`, `--deny` and `--policy FILE` together, checked: an invalid expression is a usage error (exit 2). */
export async function loadPolicy(allow: string[], deny: string[], file: string | undefined): Promise<PolicyRules> {
  const { CommandPolicy, parsePolicyFile, PolicyError } = await import('../agent/policy.js');
  const rules: PolicyRules = { allow: [...allow], deny: [...deny] };
  try {
    if (file !== undefined) {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (err) {
        throw usageError(`cannot read the policy file ${file}: ${(err as Error).message}`);
      }
      const fromFile = parsePolicyFile(text, file);
      rules.allow.push(...fromFile.allow);
      rules.deny.push(...fromFile.deny);
    }
    new CommandPolicy(rules);
  } catch (err) {
    if (err instanceof PolicyError) throw usageError(err.message);
    throw err;
  }
  return rules;
}

/** `--run-as USER`, looked up (root, the user, setpriv): a StartupError exits 1. */
export async function lookUpRunAs(name: string) {
  const { resolveRunAs } = await import('../agent/run-as.js');
  try {
    return await resolveRunAs(name);
  } catch (err) {
    if (err instanceof StartupError) throw new UserError(err.message, { code: 'ERR_STARTUP', exit: 1 });
    throw err;
  }
}

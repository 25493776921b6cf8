import { Errors, flush, handle, run, type Interfaces } from '@oclif/core';
import { COMMAND_MODULES } from './command-modules.js';
import { EXIT } from './lib/errors.js';

/**
 * Runs the CLI as oclif's `execute` does, but says an unknown command the way it was typed (`jobs lst`, not
 * `jobs:lst`), with the closest command, and exits 2 like any usage error.
 */
export async function main(argv: string[], load: Interfaces.LoadOptions): Promise<void> {
  try {
    await run(argv, load);
    await flush();
  } catch (err) {
    await handle(unknownCommand(err) ?? (err as Error));
  }
}

function unknownCommand(err: unknown): Errors.ExitError | undefined {
  const id = err instanceof Errors.CLIError ? /^command (\S+) not found$/.exec(err.message)?.[1] : undefined;
  if (id === undefined) return undefined;
  const typed = id.replace(/:/g, ' ');
  const closest = closestCommand(typed);
  process.stderr.write(
    `ogent: there is no command "${typed}"\n  try: ${closest ? `ogent ${closest}, or ` : ''}ogent help\n`,
  );
  return new Errors.ExitError(EXIT.usage);
}

/** The command nearest to what was typed (edit distance), if near enough to be a likely typo. */
export function closestCommand(typed: string): string | undefined {
  const ids = [...Object.keys(COMMAND_MODULES), 'autocomplete'].map((id) => id.replace(/:/g, ' '));
  let best: { id: string; distance: number } | undefined;
  for (const id of ids) {
    const distance = editDistance(typed, id);
    if (!best || distance < best.distance) best = { id, distance };
  }
  return best && best.distance <= Math.max(2, Math.floor(typed.length / 3)) ? best.id : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((previous[j] as number) + 1, (row[j - 1] as number) + 1, (previous[j - 1] as number) + cost);
    }
    previous = row;
  }
  return previous[b.length] as number;
}

/**
 * A reader that closed our stdout or stderr (`ogent jobs logs ID | head -1`) ends the command at once and quietly,
 * as it ends `cat`: by SIGPIPE, which Node ignores (writes fail with EPIPE instead) and which is restored here.
 */
let watching = false;

export function endOnClosedOutput(): void {
  if (watching) return;
  watching = true;
  process.stdout.on('error', onOutputError);
  process.stderr.on('error', onOutputError);
}

/** Whether `err` is a write to an output its reader closed (a command may see it as a rejected write). */
export const isClosedOutput = (err: unknown): boolean =>
  (err as NodeJS.ErrnoException | undefined)?.code === 'EPIPE' && (process.stdout.destroyed || process.stderr.destroyed);

function onOutputError(err: NodeJS.ErrnoException): void {
  if (err.code !== 'EPIPE') throw err;
  dieOfSigpipe();
}

export function dieOfSigpipe(): never {
  // Removing the last listener of a signal gives it back its default action (libuv's): ending the process.
  const restore = () => {};
  process.on('SIGPIPE', restore).off('SIGPIPE', restore);
  try {
    process.kill(process.pid, 'SIGPIPE');
  } catch {
    // no SIGPIPE on this platform: the exit status a shell reports for it
  }
  process.exit(128 + 13);
}

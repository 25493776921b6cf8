/**
 * Resolves at the first SIGINT or SIGTERM. The listeners stay for the whole shutdown (a signal that finds none ends
 * the process mid-shutdown); a later signal calls `again`: by default the process ends as that signal would end it.
 * Called before the process says it is ready, so that no signal sent on that line finds no listener.
 */
export function waitForSignal(again: (signal: NodeJS.Signals) => void = reraise): Promise<void> {
  return new Promise((resolve) => {
    let first = true;
    const onSignal = (signal: NodeJS.Signals) => {
      if (!first) return again(signal);
      first = false;
      resolve();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

function reraise(signal: NodeJS.Signals): void {
  process.removeAllListeners(signal);
  process.kill(process.pid, signal);
}

import type { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { StdinChunk } from '../protocol/stdin.js';

/** Asks the controller for a run's stdin from `offset`; rejects when there is no answer (disconnected, timeout). */
export type StdinReader = (runId: string, offset: number) => Promise<StdinChunk>;

/** Between attempts while the controller cannot be asked (no connection, no answer, `retry`). */
const RETRY_MS = 250;

/**
 * Pulls a run's stdin (docs/protocol.md §10) and writes it to the process with backpressure: the next piece is asked
 * for once the pipe has drained. Ends the pipe at end-of-file; stops when the process closes its stdin or exits
 * (EPIPE is not an error of the run). `fail` gets why the run cannot have its stdin (the upload was interrupted).
 * Returns what stops it.
 */
export function feedStdin(
  runId: string,
  pipe: Writable,
  reader: () => StdinReader | undefined,
  fail: (reason: string) => void,
): () => void {
  let stopped = false;
  const stop = () => {
    stopped = true;
  };
  // The process closed its stdin or exited: what it did not read is not its failure.
  pipe.on('error', stop);
  pipe.on('close', stop);
  const drained = () =>
    new Promise<void>((resolve) => {
      const done = () => {
        pipe.off('drain', done);
        pipe.off('close', done);
        resolve();
      };
      pipe.on('drain', done);
      pipe.on('close', done);
    });
  const ask = (offset: number): Promise<StdinChunk | undefined> =>
    reader()?.(runId, offset).catch(() => undefined) ?? Promise.resolve(undefined);
  const pump = async () => {
    let offset = 0;
    let next = ask(0);
    while (!stopped) {
      const chunk = await next;
      if (stopped) return;
      if (!chunk || (!chunk.ok && chunk.error === 'retry')) {
        await sleep(RETRY_MS);
        next = ask(offset);
        continue;
      }
      if (!chunk.ok) return fail(chunk.message);
      offset += chunk.data.length;
      if (chunk.eof) {
        pipe.end(chunk.data);
        return;
      }
      // The next piece is asked for while this one goes into the pipe: one round trip hidden per piece.
      next = ask(offset);
      if (chunk.data.length && !pipe.write(chunk.data)) await drained();
    }
  };
  void pump();
  return stop;
}

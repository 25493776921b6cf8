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
  const pump = async () => {
    let offset = 0;
    while (!stopped) {
      const read = reader();
      let chunk: StdinChunk | undefined;
      if (read) chunk = await read(runId, offset).catch(() => undefined);
      if (stopped) return;
      if (!chunk || (!chunk.ok && chunk.error === 'retry')) {
        await sleep(RETRY_MS);
        continue;
      }
      if (!chunk.ok) return fail(chunk.message);
      offset += chunk.data.length;
      if (chunk.data.length && !pipe.write(chunk.data)) await drained();
      if (chunk.eof) return void pipe.end();
    }
  };
  void pump();
  return stop;
}

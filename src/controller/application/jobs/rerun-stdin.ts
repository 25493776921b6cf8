import type { JobStdin } from '../../../domain/model.js';
import { STDIN_LIMITS } from '../../../protocol/stdin.js';
import { AppError } from '../errors.js';
import type { StdinStore } from '../ports.js';

/**
 * `jobs rerun` of a job that had stdin (README, Standard input): the new job gets the same bytes, copied in the store
 * before anything is dispatched, and ended. A stdin that never reached its end (the upload was cut, or the job ended
 * first) is not a whole input: the rerun is refused rather than run on part of it.
 */
export async function copyStdin(store: StdinStore | undefined, from: string, to: string): Promise<JobStdin> {
  const source = store ? await store.state(from) : undefined;
  if (!store || !source?.ended || source.error) {
    throw new AppError(
      'stdin_incomplete',
      `job ${from} did not get the whole of its stdin, so it cannot run again with it: pipe it into ogent exec again`,
    );
  }
  for (let at = 0; at < source.bytes;) {
    const piece = await store.read(from, at, STDIN_LIMITS.chunkBytes);
    if (piece.length === 0) break;
    await store.append(to, at, piece, STDIN_LIMITS.maxBytes);
    at += piece.length;
  }
  await store.finish(to, { ended: true });
  return { bytes: source.bytes, ended: true };
}

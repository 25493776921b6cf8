import { Flags } from '@oclif/core';
import { StartupError, UserError } from '../../lib/errors.js';

/** Where the store is, as `controller serve` says it (its --data-dir and --redis). */
export const storeFlags = {
  'data-dir': Flags.string({
    summary: 'The data dir of the store (default: the one `controller serve` uses).',
    env: 'OGENT_DATA_DIR',
    helpValue: 'DIR',
  }),
  redis: Flags.string({
    summary: 'The store is in this Redis (`controller serve --redis`), not in the data dir.',
    env: 'OGENT_REDIS_URL',
    helpValue: 'URL',
  }),
};

/** A store that cannot be used exits 1, as `controller serve` does. */
export function storeError(err: unknown): unknown {
  return err instanceof StartupError ? new UserError(err.message, { code: 'ERR_STARTUP', exit: 1 }) : err;
}

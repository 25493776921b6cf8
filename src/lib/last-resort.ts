import type { Logger } from './log.js';

/** The process events the guard listens to (`process`, or an emitter in tests). */
export interface ProcessEvents {
  on(event: 'unhandledRejection' | 'uncaughtException', listener: (err: unknown) => void): unknown;
  off(event: 'unhandledRejection' | 'uncaughtException', listener: (err: unknown) => void): unknown;
}

/**
 * Errors after which the process cannot be trusted: a broken invariant of Node itself or of an `assert` in the code.
 * Everything else that escapes is one request's or one connection's failure.
 */
export function isFatal(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ERR_INTERNAL_ASSERTION' || code === 'ERR_ASSERTION';
}

/**
 * The last resort of a server once it has started (`controller serve`): an error no handler caught is logged and the
 * process keeps serving. A rejection unwound only the async work that failed (a request's, as the list route's
 * JSON.stringify past V8's longest string once did), so it is always survived; an uncaught exception is survived
 * unless `isFatal`, then `fatal` is called (the server shuts down and exits 1). Start-up errors never reach this: it
 * is installed after start-up. Returns what uninstalls it.
 */
export function keepServing(log: Logger, fatal: (err: unknown) => void, proc: ProcessEvents = process): () => void {
  const describe = (err: unknown) => (err instanceof Error ? (err.stack ?? err.message) : String(err));
  const onRejection = (err: unknown) =>
    log.error('unhandled promise rejection (a bug): that work failed, still serving', { error: describe(err) });
  const onException = (err: unknown) => {
    if (!isFatal(err)) {
      log.error('uncaught exception (a bug): that work failed, still serving', { error: describe(err) });
      return;
    }
    log.error('fatal error: shutting down', { error: describe(err) });
    fatal(err);
  };
  proc.on('unhandledRejection', onRejection);
  proc.on('uncaughtException', onException);
  return () => {
    proc.off('unhandledRejection', onRejection);
    proc.off('uncaughtException', onException);
  };
}

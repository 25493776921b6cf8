/** Exit codes of `exec` and `jobs wait` (docs/protocol.md §8); other commands use the same numbers for the same causes. */
export const EXIT = {
  ok: 0,
  runsFailed: 1,
  usage: 2,
  auth: 3,
  unreachable: 4,
  noMatch: 5,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Something the user can fix: a short lower-case message, what to try next, and the exit code. */
export class UserError extends Error {
  override name = 'UserError';
  constructor(
    message: string,
    readonly options: { code: string; exit: ExitCode; suggestion?: string },
  ) {
    super(message);
  }
  get code(): string {
    return this.options.code;
  }
  get exit(): ExitCode {
    return this.options.exit;
  }
}

export const usageError = (message: string, suggestion?: string) =>
  new UserError(message, { code: 'ERR_USAGE', exit: EXIT.usage, suggestion });

export const authError = (message: string, suggestion?: string, code = 'ERR_AUTH') =>
  new UserError(message, { code, exit: EXIT.auth, suggestion });

export const unreachableError = (message: string, suggestion?: string) =>
  new UserError(message, { code: 'ERR_UNREACHABLE', exit: EXIT.unreachable, suggestion });

/** Raised by the controller at start-up (corrupt store, data dir in use); the command exits 1 with the message. */
export class StartupError extends Error {
  override name = 'StartupError';
}

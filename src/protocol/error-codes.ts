/**
 * Every code a controller refuses a request with (HTTP `{error, message}`, `JobAck.error`), with its HTTP status and
 * the exit code of the CLI that gets it (docs/protocol.md §8). The one table both sides use: the controller's
 * `AppError` takes its status from here, the client's `apiError` (lib/http-client.ts) its exit code.
 */

/** Names of `lib/errors.ts` `EXIT` (protocol/ imports nothing of lib/; lib/http-client.ts checks the names). */
export type ExitName = 'runsFailed' | 'usage' | 'auth' | 'unreachable' | 'noMatch';

export const ERROR_CODES = {
  invalid_request: { status: 400, exit: 'usage' },
  unsupported_grant_type: { status: 400, exit: 'usage' },
  high_risk: { status: 400, exit: 'usage' },
  unauthorized: { status: 401, exit: 'auth' },
  invalid_grant: { status: 401, exit: 'auth' },
  invalid_token: { status: 401, exit: 'auth' },
  token_expired: { status: 401, exit: 'auth' },
  invalid_join_token: { status: 401, exit: 'auth' },
  forbidden: { status: 403, exit: 'auth' },
  not_found: { status: 404, exit: 'runsFailed' },
  method_not_allowed: { status: 405, exit: 'runsFailed' },
  conflict: { status: 409, exit: 'runsFailed' },
  job_running: { status: 409, exit: 'runsFailed' },
  /** `jobs rerun` of a job whose stdin never reached its end (docs/protocol.md §10). */
  stdin_incomplete: { status: 409, exit: 'runsFailed' },
  payload_too_large: { status: 413, exit: 'runsFailed' },
  no_agents_matched: { status: 422, exit: 'noMatch' },
  version_unsupported: { status: 426, exit: 'unreachable' },
  too_many_requests: { status: 429, exit: 'auth' },
  internal: { status: 500, exit: 'runsFailed' },
  ai_not_configured: { status: 501, exit: 'usage' },
  ai_unavailable: { status: 502, exit: 'runsFailed' },
  ai_invalid_answer: { status: 502, exit: 'runsFailed' },
  shutting_down: { status: 503, exit: 'runsFailed' },
  owner_unreachable: { status: 503, exit: 'runsFailed' },
  store_unavailable: { status: 503, exit: 'runsFailed' },
  audit_unavailable: { status: 503, exit: 'runsFailed' },
  too_many_connections: { status: 503, exit: 'unreachable' },
} as const satisfies Record<string, { status: number; exit: ExitName }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export const isErrorCode = (code: unknown): code is ErrorCode =>
  typeof code === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, code);

/** The HTTP status of a code; 500 for one this release does not know. */
export const statusOf = (code: unknown): number => (isErrorCode(code) ? ERROR_CODES[code].status : 500);

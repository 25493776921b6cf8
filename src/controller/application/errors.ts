import { ERROR_CODES, type ErrorCode } from '../../protocol/error-codes.js';

/**
 * Errors the application layer raises; the HTTP and socket adapters map `status` and `error` onto the wire. The status
 * is the code's (protocol/error-codes.ts), but for an error another controller answered (scale-out): as it said.
 */
export class AppError extends Error {
  override name = 'AppError';
  readonly status: number;
  constructor(
    readonly error: ErrorCode,
    message: string,
    status?: number,
  ) {
    super(message);
    this.status = status ?? ERROR_CODES[error].status;
  }
}

export const badRequest = (message: string) => new AppError('invalid_request', message);
export const unauthorized = (message = 'invalid credentials') => new AppError('invalid_grant', message);
export const forbidden = (message: string) => new AppError('forbidden', message);
export const notFound = (message: string) => new AppError('not_found', message);
export const conflict = (message: string) => new AppError('conflict', message);
export const noMatch = (message: string) => new AppError('no_agents_matched', message);
/** Scale-out: Redis is unreachable, so nothing can be read or stored; the request may be retried once it is back. */
export const storeUnavailable = (reason: string) =>
  new AppError('store_unavailable', `the shared store (Redis) is unavailable: ${reason}; try again when it is back`);

export class TokenError extends Error {
  override name = 'TokenError';
  constructor(
    readonly code: 'ERR_TOKEN_EXPIRED' | 'ERR_TOKEN_INVALID' | 'ERR_FORBIDDEN',
    message: string,
  ) {
    super(message);
  }
}

/** Errors the application layer raises; the HTTP and socket adapters map `status` and `error` onto the wire. */
export class AppError extends Error {
  override name = 'AppError';
  constructor(
    readonly status: number,
    readonly error: string,
    message: string,
  ) {
    super(message);
  }
}

export const badRequest = (message: string) => new AppError(400, 'invalid_request', message);
export const unauthorized = (message = 'invalid credentials') => new AppError(401, 'invalid_grant', message);
export const forbidden = (message: string) => new AppError(403, 'forbidden', message);
export const notFound = (message: string) => new AppError(404, 'not_found', message);
export const conflict = (message: string) => new AppError(409, 'conflict', message);
export const noMatch = (message: string) => new AppError(422, 'no_agents_matched', message);
/** Scale-out: Redis is unreachable, so nothing can be read or stored; the request may be retried once it is back. */
export const storeUnavailable = (reason: string) =>
  new AppError(
    503,
    'store_unavailable',
    `the shared store (Redis) is unavailable: ${reason}; try again when it is back`,
  );

export class TokenError extends Error {
  override name = 'TokenError';
  constructor(
    readonly code: 'ERR_TOKEN_EXPIRED' | 'ERR_TOKEN_INVALID' | 'ERR_FORBIDDEN',
    message: string,
  ) {
    super(message);
  }
}

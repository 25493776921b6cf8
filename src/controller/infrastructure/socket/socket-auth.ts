import type { Namespace, Socket } from 'socket.io';
import type { AuthService } from '../../application/auth-service.js';
import { TokenError } from '../../application/errors.js';
import type { Identity } from '../../application/ports.js';

/** What both namespaces share: the token check at the handshake (authentication only), and closing a user's sockets. */

function refuse(code: TokenError['code'], message: string): Error {
  return Object.assign(new Error(message), { data: { code, message } });
}

/** Closes the connections of a user whose tokens were revoked (removed, or its password changed). */
export function disconnectUser(nsp: Namespace, name: string): number {
  let count = 0;
  for (const socket of nsp.sockets.values()) {
    if ((socket.data as { identity?: Identity }).identity?.name !== name) continue;
    socket.disconnect(true);
    count++;
  }
  return count;
}

export function authMiddleware(auth: AuthService, accept: (identity: Identity) => boolean, what: string) {
  return (socket: Socket, next: (err?: Error) => void) => {
    const token = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
    if (typeof token !== 'string' || token === '') return next(refuse('ERR_TOKEN_INVALID', 'missing token'));
    auth.authenticate(token).then(
      (identity) => {
        if (!accept(identity)) return next(refuse('ERR_FORBIDDEN', `this namespace accepts only ${what}`));
        socket.data.identity = { ...identity, from: socket.handshake.address };
        next();
      },
      (err: unknown) => {
        if (err instanceof TokenError) return next(refuse(err.code, err.message));
        next(refuse('ERR_TOKEN_INVALID', 'token invalid'));
      },
    );
  };
}

/** An ack callback, when the client sent one. */
export const isFn = (f: unknown): f is (...args: never[]) => void => typeof f === 'function';

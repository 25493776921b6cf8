import type { AuditService } from '../../application/audit-service.js';
import { LoginLimited, type LoginGuard } from '../../application/login-guard.js';
import type { SessionService } from '../../application/session-service.js';
import { object, parse, str } from '../../../protocol/validate.js';
import type { Logger } from '../../../lib/log.js';
import type { Router } from './router.js';

export const loginCheck = object({ username: str({ min: 1, max: 128 }), password: str({ min: 1, max: 1024 }) });
const refreshCheck = object({ refresh_token: str({ min: 1, max: 4096 }) });

/** 429 with Retry-After: `what`, and when to try again. */
export const tooManyRequests = (what: string, waitS: number) => ({
  status: 429,
  body: { error: 'too_many_requests', message: `${what}; retry in ${waitS}s` },
  headers: { 'retry-after': String(waitS) },
});

export interface TokenRouteDeps {
  sessions: SessionService;
  logins: LoginGuard;
  audit: AuditService;
  log: Logger;
}

/**
 * `POST /token` (a password, or `grant_type=refresh_token`) and `POST /api/v1/logout` (ends a refresh token's
 * session on every controller). Both kinds of attempt count against the login limits; a success gives its count back.
 */
export function addTokenRoutes(router: Router, deps: TokenRouteDeps): Router {
  const { sessions, logins, audit, log } = deps;
  return router
    .on('POST', '/token', async (req) => {
      const body = await req.body();
      const grant = (body as { grant_type?: unknown } | null)?.grant_type;
      if (grant === 'refresh_token') {
        const { refresh_token } = parse(refreshCheck, body);
        try {
          const { user, ...answer } = await logins.attemptRefresh(req.address, () => sessions.refresh(refresh_token));
          log.info('token refreshed', { user, address: req.address });
          return { status: 200, body: answer };
        } catch (err) {
          if (err instanceof LoginLimited) return tooManyRequests(LoginLimited.reason, err.retryAfterS);
          log.warn('token refresh refused', { address: req.address, reason: (err as Error).message });
          throw err;
        }
      }
      if (grant !== undefined && grant !== 'password') {
        return {
          status: 400,
          body: { error: 'unsupported_grant_type', message: 'grant_type must be password or refresh_token' },
        };
      }
      const { username, password } = parse(loginCheck, body);
      // Past a limit every attempt is refused for the rest of the window, right password or not.
      try {
        const answer = await logins.attempt(username, req.address, () => sessions.login(username, password));
        log.info('login', { user: username, address: req.address });
        await audit.record({ actor: username, from: req.address, action: 'login', ok: true });
        return { status: 200, body: answer };
      } catch (err) {
        if (err instanceof LoginLimited) {
          log.warn('login refused: rate limited', { user: username, address: req.address });
          return tooManyRequests(LoginLimited.reason, err.retryAfterS);
        }
        log.warn('login refused', { user: username, address: req.address });
        await audit.record({
          actor: username,
          from: req.address,
          action: 'login_failed',
          ok: false,
          detail: (err as Error).message.slice(0, 200),
        });
        throw err;
      }
    })
    .on('POST', '/api/v1/logout', async (req) => {
      const { refresh_token } = parse(refreshCheck, await req.body());
      const { user } = await sessions.logout(refresh_token);
      if (user) {
        log.info('logout', { user, address: req.address });
        await audit.record({ actor: user, from: req.address, action: 'logout', ok: true });
      }
      return { status: 200, body: { revoked: user !== undefined } };
    });
}

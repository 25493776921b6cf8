import { randomBytes } from 'node:crypto';
import type { AuthService } from './auth-service.js';
import { TokenError } from './errors.js';
import type { RevokedSessions, TokenService } from './ports.js';

/** Refresh tokens last a working day unless `controller serve --refresh-ttl` says otherwise (0: none). */
export const DEFAULT_REFRESH_TTL_S = 12 * 3600;

/** What `POST /token` answers (OAuth2 names); a refresh token only for a password login of a person. */
export interface TokenGrant {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  refresh_token?: string;
  refresh_expires_in?: number;
}

/**
 * Login sessions: a password login of a person (not an `agent`) gets a refresh token for session `sid`, which buys
 * new access tokens until it expires, `logout` revokes the session, or its user changes (password, removal, role).
 * The refresh token is not rotated: commands run in parallel share one credentials file, and a rotation would log
 * out all but the first of them to refresh; the session still ends at the refresh token's expiry.
 */
export class SessionService {
  constructor(
    private readonly auth: AuthService,
    private readonly tokens: TokenService,
    private readonly revoked: RevokedSessions,
    private readonly refreshTtlSeconds: number = DEFAULT_REFRESH_TTL_S,
  ) {}

  async login(name: string, password: string): Promise<TokenGrant> {
    const { token, expiresIn, role, ver, epoch } = await this.auth.login(name, password);
    const grant: TokenGrant = { access_token: token, token_type: 'bearer', expires_in: expiresIn };
    if (role === 'agent' || this.refreshTtlSeconds <= 0) return grant;
    const sid = randomBytes(16).toString('base64url');
    const refresh = await this.tokens.issueRefresh({ sub: name, role, ver, epoch, sid }, this.refreshTtlSeconds);
    return { ...grant, refresh_token: refresh, refresh_expires_in: this.refreshTtlSeconds };
  }

  /** A new access token for a refresh token whose session is alive; throws TokenError (401) otherwise. */
  async refresh(refreshToken: string): Promise<TokenGrant & { user: string }> {
    const claims = await this.tokens.verifyRefresh(refreshToken);
    if (await this.revoked.isRevoked(claims.sid))
      throw new TokenError('ERR_TOKEN_INVALID', 'session ended: logged out');
    await this.auth.recheck({ name: claims.sub, role: claims.role, ver: claims.ver, epoch: claims.epoch });
    const { token, expiresIn } = await this.tokens.issue(claims.sub, claims.role, claims.ver, claims.epoch);
    return { access_token: token, token_type: 'bearer', expires_in: expiresIn, user: claims.sub };
  }

  /** Ends the session of `refreshToken` on every controller; an expired one has nothing left to end. */
  async logout(refreshToken: string): Promise<{ user?: string }> {
    try {
      const claims = await this.tokens.verifyRefresh(refreshToken);
      await this.revoked.revoke(claims.sid, claims.exp * 1000);
      return { user: claims.sub };
    } catch (err) {
      if (err instanceof TokenError && err.code === 'ERR_TOKEN_EXPIRED') return {};
      throw err;
    }
  }
}

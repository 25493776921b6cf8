import { randomBytes, randomUUID } from 'node:crypto';
import { errors, jwtVerify, SignJWT } from 'jose';
import { ROLES, type Role } from '../../domain/model.js';
import { TokenError } from '../application/errors.js';
import type { RefreshClaims, TokenClaims, TokenService } from '../application/ports.js';

const ISSUER = 'ogent';
const AUDIENCE = 'ogent';
/** Refresh tokens' audience: an access token is refused as one, and one is refused as an access token. */
const REFRESH_AUDIENCE = 'ogent-refresh';
const MAX_CLOCK_SKEW_S = 60;

/** HS256 JWTs with issuer, audience, expiry and jti checked; any other algorithm is refused. */
export class JoseTokenService implements TokenService {
  constructor(
    private readonly secret: Uint8Array,
    private readonly ttlSeconds: number,
  ) {}

  static generateSecret(): Buffer {
    return randomBytes(32);
  }

  async issue(sub: string, role: Role, ver: number, epoch?: string) {
    const token = await new SignJWT({ role, ver, ...(epoch === undefined ? {} : { epoch }) })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(sub)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${this.ttlSeconds}s`)
      .setJti(randomUUID())
      .sign(this.secret);
    return { token, expiresIn: this.ttlSeconds };
  }

  async issueRefresh(
    claims: { sub: string; role: Role; ver: number; epoch?: string; sid: string },
    ttlSeconds: number,
  ): Promise<string> {
    const { sub, role, ver, epoch, sid } = claims;
    return new SignJWT({ role, ver, sid, ...(epoch === undefined ? {} : { epoch }) })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(sub)
      .setIssuer(ISSUER)
      .setAudience(REFRESH_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${ttlSeconds}s`)
      .setJti(randomUUID())
      .sign(this.secret);
  }

  verify(token: string): Promise<TokenClaims> {
    return this.check(token, AUDIENCE);
  }

  async verifyRefresh(token: string): Promise<RefreshClaims> {
    const { sid, ...claims } = await this.check(token, REFRESH_AUDIENCE);
    if (typeof sid !== 'string' || !sid) throw new TokenError('ERR_TOKEN_INVALID', 'refresh token has no session');
    return { ...claims, sid };
  }

  private async check(token: string, audience: string): Promise<TokenClaims & { sid?: unknown }> {
    try {
      const { payload } = await jwtVerify(token, this.secret, {
        algorithms: ['HS256'],
        issuer: ISSUER,
        audience,
        requiredClaims: ['sub', 'exp', 'iat', 'jti'],
      });
      // jose accepts an `iat` in the future; a token is never issued ahead of the clocks (a minute of skew allowed).
      if ((payload.iat as number) > Date.now() / 1000 + MAX_CLOCK_SKEW_S) {
        throw new TokenError('ERR_TOKEN_INVALID', 'token issued in the future');
      }
      const role = payload.role as Role;
      if (!ROLES.includes(role) || typeof payload.ver !== 'number') {
        throw new TokenError('ERR_TOKEN_INVALID', 'token has no valid role');
      }
      if (payload.epoch !== undefined && typeof payload.epoch !== 'string') {
        throw new TokenError('ERR_TOKEN_INVALID', 'token has no valid epoch');
      }
      return {
        sub: payload.sub as string,
        role,
        iat: payload.iat as number,
        exp: payload.exp as number,
        jti: payload.jti as string,
        ver: payload.ver,
        ...(payload.epoch === undefined ? {} : { epoch: payload.epoch }),
        ...(audience === REFRESH_AUDIENCE ? { sid: payload.sid } : {}),
      };
    } catch (err) {
      if (err instanceof TokenError) throw err;
      if (err instanceof errors.JWTExpired) throw new TokenError('ERR_TOKEN_EXPIRED', 'token expired');
      throw new TokenError('ERR_TOKEN_INVALID', 'token invalid');
    }
  }
}

/**
 * Join tokens (docs/protocol.md, join tokens): `ogj_` and 32 random bytes in base64url, then, when the controller
 * serves its own CA, `.` and the lowercase hex sha256 of that CA certificate, which the enrolling agent pins (as
 * `kubeadm join --discovery-token-ca-cert-hash` does). Only the part before the `.` is the secret.
 */
export const JOIN_TOKEN_PREFIX = 'ogj_';

const FINGERPRINT = /^[0-9a-f]{64}$/;

export interface JoinToken {
  /** What the controller checks (its sha256 is stored). */
  secret: string;
  /** `sha256:HEX` of the controller's CA certificate, when the token names one. */
  caFingerprint?: string;
}

/** The token as issued: the secret, and the CA fingerprint (`sha256:HEX`) when there is one. */
export function formatJoinToken(secret: string, caFingerprint?: string): string {
  return caFingerprint ? `${secret}.${caFingerprint.replace(/^sha256:/, '')}` : secret;
}

/** Splits a token; undefined when what follows the `.` is not a sha256 in hex (a token cut or mistyped). */
export function parseJoinToken(token: string): JoinToken | undefined {
  const dot = token.indexOf('.');
  if (dot < 0) return { secret: token };
  const hex = token.slice(dot + 1).toLowerCase();
  if (!FINGERPRINT.test(hex)) return undefined;
  return { secret: token.slice(0, dot), caFingerprint: `sha256:${hex}` };
}

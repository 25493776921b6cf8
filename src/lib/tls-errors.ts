import { UserError, EXIT } from './errors.js';

const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
]);

/** The code of a TLS failure in an error from node:https, fetch or socket.io-client (`description.error`). */
export function tlsCodeOf(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown }; description?: { error?: { code?: unknown } } };
  const code = [e?.code, e?.cause?.code, e?.description?.error?.code].find((c) => typeof c === 'string') as
    string | undefined;
  if (!code) return undefined;
  return UNTRUSTED.has(code) || code.startsWith('CERT_') || code === 'ERR_TLS_CERT_ALTNAME_INVALID' ? code : undefined;
}

/**
 * A certificate the client does not accept, as a UserError with what to do (exit 4, like an unreachable controller:
 * the controller cannot be used as it is). Undefined when `err` is not a certificate problem.
 */
export function certificateError(controller: string, err: unknown): UserError | undefined {
  const code = tlsCodeOf(err);
  if (!code) return undefined;
  const fail = (message: string, suggestion: string) =>
    new UserError(`${message} (${code})`, { code: 'ERR_TLS', exit: EXIT.unreachable, suggestion });
  if (UNTRUSTED.has(code)) {
    return fail(
      `certificate not trusted: the controller at ${controller} presented a certificate no trusted CA signed`,
      'pass --ca FILE (or set OGENT_CA) with the CA certificate that signed it, or the self-signed certificate itself; ' +
        'a controller serving its own CA prints it with `ogent controller ca` on its host (or fetch /ca.pem, and compare its sha256 with the fingerprint the controller logs)',
    );
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return fail(
      `certificate not valid for ${new URL(controller).hostname}: the controller's certificate names other hosts`,
      'use a host name the certificate lists in the controller URL, or reissue the certificate with this one ' +
        '(a controller serving its own CA: restart it with --tls-san NAME)',
    );
  }
  if (code === 'CERT_HAS_EXPIRED') {
    return fail(
      `certificate expired: the controller at ${controller} presented an expired certificate`,
      'renew it and restart the controller with the new --tls-cert/--tls-key',
    );
  }
  return fail(
    `certificate refused: the controller at ${controller} presented a certificate this client does not accept`,
    "check the certificate's dates and this host's clock, or pass --ca FILE",
  );
}

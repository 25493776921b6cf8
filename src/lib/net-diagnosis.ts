/** What a failed connection to a controller means, in plain words (`ogent doctor`, every client and agent request). */

/** A problem in plain words, and what to do about it. */
export interface Diagnosis {
  /** `network` (cannot talk to the host), `tls` (cannot trust it), `http` (it answers, but not as expected). */
  kind: 'network' | 'tls' | 'http';
  code: string;
  message: string;
  advice: string;
}

export interface CertificateFacts {
  subject: string;
  issuer: string;
  validTo: string;
  names: string[];
}

export const codeOf = (err: unknown): string => {
  const e = err as { code?: string; cause?: { code?: string }; message?: string };
  return e.code ?? e.cause?.code ?? e.message ?? 'unknown';
};

/** An answer, but not an ogent controller's: another service listens on that host and port. */
export function notAController(base: string, status: number, path: string): Diagnosis {
  return {
    kind: 'http',
    code: 'not_ogent',
    message: `${base} answers (HTTP ${status} on ${path}) but is not an ogent controller`,
    advice: 'check the host and port in the URL: another service listens there',
  };
}

/** `500ms`, `5s`, `1m30s`: how long was waited, as a user would have typed it. */
const waited = (ms: number) =>
  ms < 1000 ? `${ms}ms` : ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`;

/** Says what a failed connection or handshake means, and what to try (`timeoutMs`: how long an answer was waited for). */
export function diagnose(
  err: unknown,
  target: { host: string; port: number; certificate?: CertificateFacts; timeoutMs?: number },
): Diagnosis {
  const code = codeOf(err);
  const where = `${target.host}:${target.port}`;
  const cert = target.certificate;
  const network = (message: string, advice: string): Diagnosis => ({ kind: 'network', code, message, advice });
  const tls = (message: string, advice: string): Diagnosis => ({ kind: 'tls', code, message, advice });
  const trustIt =
    'pass the CA certificate that signed it (or the certificate itself) with --ca FILE; a controller serving its own CA prints it with `ogent controller ca`';
  switch (code) {
    case 'ENOTFOUND':
      return network(`the host name ${target.host} does not resolve`, 'check the spelling of the URL, or the DNS');
    case 'EAI_AGAIN':
      return network(`the DNS lookup of ${target.host} failed for now`, 'check the DNS servers, then try again');
    case 'ECONNREFUSED':
      return network(
        `nothing listens on ${where} (connection refused)`,
        'start `ogent controller serve` there, or fix the port in the URL (the default is 8600)',
      );
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return network(
        `no answer from ${where} ${target.timeoutMs ? `within ${waited(target.timeoutMs)}` : 'in time'}`,
        'the host may be down, or a firewall drops the traffic to that port',
      );
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return network(`no route to ${target.host}`, 'check the address and the network between here and there');
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
      return network(
        `${where} closed the connection without an answer`,
        'if the controller serves HTTPS (--tls-cert), use an https:// URL',
      );
    case 'EPROTO':
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
    case 'ERR_SSL_PACKET_LENGTH_TOO_LONG':
      return tls(
        `${where} does not speak TLS`,
        'use an http:// URL, or start the controller with --tls-cert/--tls-key',
      );
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      return tls(
        `the controller's certificate (${cert?.subject ?? 'self-signed'}) is self-signed and not trusted here`,
        trustIt,
      );
    case 'SELF_SIGNED_CERT_IN_CHAIN':
      return tls(
        `the certificate is signed by a private CA (${cert?.issuer ?? '?'}) that is not trusted here`,
        trustIt,
      );
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
      return tls(
        `the certificate's issuer (${cert?.issuer ?? '?'}) is not trusted here`,
        `${trustIt}; or serve the full chain (leaf then intermediates) in the controller's --tls-cert`,
      );
    case 'CERT_HAS_EXPIRED':
      return tls(
        `the controller's certificate expired on ${cert?.validTo ?? '?'}`,
        'renew it and restart the controller with the new --tls-cert/--tls-key',
      );
    case 'CERT_NOT_YET_VALID':
      return tls(
        "the controller's certificate is not valid yet",
        "check this host's clock, then the certificate's dates",
      );
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return tls(
        `the certificate is for ${cert?.names.join(', ') || cert?.subject || 'another name'}, not for ${target.host}`,
        'use a host name the certificate lists in the URL, or reissue the certificate with this one',
      );
    default:
      if (code.startsWith('HPE_')) {
        return {
          kind: 'http',
          code,
          message: `${where} does not answer in HTTP`,
          advice: 'if it serves HTTPS, use https://',
        };
      }
      if (/CERT|SSL|TLS/.test(code)) return tls(`the TLS handshake with ${where} failed (${code})`, trustIt);
      return network(`cannot reach ${where} (${code})`, 'check the URL and that the controller runs');
  }
}

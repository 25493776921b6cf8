import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { VERSION } from '../lib/version.js';
import { VERSION_HEADER } from '../protocol/version.js';
import { checkServerIdentity, connect, type PeerCertificate } from 'node:tls';

/** A problem in plain words, and what to do about it. */
export interface Diagnosis {
  /** `network` (cannot talk to the host), `tls` (cannot trust it), `http` (it answers, but not as expected). */
  kind: 'network' | 'tls' | 'http';
  code: string;
  message: string;
  advice: string;
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** When the request was sent and the answer's headers arrived (ms since the epoch). */
  sentAt: number;
  receivedAt: number;
}

export interface ProbeOptions {
  /** PEM of the CA (or self-signed certificate) to trust, as `--ca FILE` gives it. */
  ca?: string;
  timeoutMs: number;
}

/** One HTTP(S) request; rejects with the socket or TLS error (see `diagnose`). */
export function httpCall(
  url: URL,
  init: { method?: string; headers?: Record<string, string>; body?: string },
  options: ProbeOptions,
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const sentAt = Date.now();
    const req = request(
      url,
      {
        method: init.method ?? 'GET',
        headers: { ...init.headers, [VERSION_HEADER]: VERSION },
        ca: options.ca,
        timeout: options.timeoutMs,
      },
      (res) => {
        const receivedAt = Date.now();
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (text.length < 1_000_000) text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text, sentAt, receivedAt }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(init.body);
  });
}

export interface CertificateFacts {
  subject: string;
  issuer: string;
  validTo: string;
  names: string[];
}

/** TLS handshake with `host:port`, trusting `ca` (or the system's CAs): the certificate, and why it is not trusted. */
export function tlsProbe(
  host: string,
  port: number,
  options: ProbeOptions,
): Promise<{ certificate: CertificateFacts; problem?: Diagnosis }> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host,
      port,
      servername: isIP(host) ? undefined : host,
      ca: options.ca,
      // Checked below, so the answer can say what is wrong with the certificate instead of only failing.
      rejectUnauthorized: false,
      timeout: options.timeoutMs,
    });
    socket.once('timeout', () => socket.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    socket.once('error', reject);
    socket.once('secureConnect', () => {
      const cert = socket.getPeerCertificate();
      const certificate = facts(cert);
      const chainError = socket.authorizationError as unknown as Error | string | null;
      const code = chainError ? (typeof chainError === 'string' ? chainError : codeOf(chainError)) : undefined;
      const identity = code ? undefined : checkServerIdentity(host, cert);
      socket.end();
      const problem = code
        ? diagnose(Object.assign(new Error(code), { code }), { host, port, certificate })
        : identity
          ? diagnose(identity, { host, port, certificate })
          : undefined;
      resolve({ certificate, problem });
    });
  });
}

function facts(cert: PeerCertificate): CertificateFacts {
  const cn = (x: PeerCertificate['subject'] | undefined) => {
    const v = x?.CN ?? x?.O;
    return Array.isArray(v) ? v.join(', ') : (v ?? '?');
  };
  const names = (cert.subjectaltname ?? '')
    .split(',')
    .map((s) => s.trim().replace(/^(DNS|IP Address):/, ''))
    .filter(Boolean);
  return {
    subject: cn(cert.subject),
    issuer: cn(cert.issuer),
    validTo: cert.valid_to ? new Date(cert.valid_to).toISOString() : '?',
    names,
  };
}

const codeOf = (err: unknown): string => {
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

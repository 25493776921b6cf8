import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { VERSION } from '../lib/version.js';
import { VERSION_HEADER } from '../protocol/version.js';
import { checkServerIdentity, connect, type PeerCertificate } from 'node:tls';
import { codeOf, diagnose, type CertificateFacts, type Diagnosis } from '../lib/net-diagnosis.js';

export { diagnose, notAController, type CertificateFacts, type Diagnosis } from '../lib/net-diagnosis.js';

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

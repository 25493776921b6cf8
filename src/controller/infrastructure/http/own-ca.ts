import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { hostname, networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { StartupError } from '../../../lib/errors.js';
import type { Logger } from '../../../lib/log.js';
import { certificateFingerprint, issueCertificate } from '../../../lib/x509.js';

/** The controller's own CA and server certificate (README, TLS): what `controller serve` needs to serve HTTPS. */
export interface OwnTls {
  cert: string;
  key: string;
  /** The CA certificate (PEM), served on `GET /ca.pem`. */
  ca: string;
  caPath: string;
  /** `sha256:` + hex of the CA certificate's DER: what join tokens carry and agents pin. */
  fingerprint: string;
}

const DAY_MS = 86_400_000;
const CA_LIFETIME_MS = 10 * 365 * DAY_MS;
const SERVER_LIFETIME_MS = 365 * DAY_MS;
/** A server certificate this close to its end is replaced at start. */
export const RENEW_BEFORE_MS = 30 * DAY_MS;
/** Certificates start an hour back, so that a peer whose clock is a little behind accepts them. */
const CLOCK_SKEW_MS = 3_600_000;

export const tlsDir = (dataDir: string) => join(dataDir, 'tls');

/**
 * The names the server certificate is valid for: the listen host, this host's name, loopback and every address of
 * this host's interfaces (a controller on 0.0.0.0 is reached by any of them), and `--tls-san`.
 */
export function serverAltNames(host: string, extra: string[] = []): string[] {
  const addresses = Object.values(networkInterfaces())
    .flat()
    .flatMap((nic) => (nic && !nic.address.startsWith('fe80:') ? [nic.address] : []));
  const names = [host.replace(/^\[|\]$/g, ''), hostname(), 'localhost', '127.0.0.1', '::1', ...addresses, ...extra];
  return [...new Set(names.filter(Boolean).map((n) => (isIP(n) ? n : n.toLowerCase())))];
}

async function readIfThere(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StartupError(`cannot read ${path} (${(err as NodeJS.ErrnoException).code}): check its owner and mode`);
  }
}

/** Temp file, then rename: never half-written; 0600 like the rest of the data dir (the store narrows it anyway). */
async function writeAtomically(path: string, text: string, mode: number): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(temp, text, { mode });
    await chmod(temp, mode);
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw new StartupError(`cannot write ${path}: ${(err as Error).message}`);
  }
}

const newKeyPair = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
const keyPem = (key: KeyObject) => key.export({ type: 'pkcs8', format: 'pem' }) as string;

/** The CA in `tls/`: made on the first start (key first: a key without its certificate is replaced, never used). */
async function ensureCa(dir: string, log: Logger): Promise<{ pem: string; key: KeyObject; path: string }> {
  const path = join(dir, 'ca.pem');
  const keyPath = join(dir, 'ca.key');
  const [pem, keyText] = [await readIfThere(path), await readIfThere(keyPath)];
  if (pem !== undefined) {
    if (keyText === undefined) {
      throw new StartupError(
        `${path} has no key (${keyPath}): restore it, or move ${dir} away to create a new CA (every agent must then enroll again)`,
      );
    }
    let cert: X509Certificate;
    let key: KeyObject;
    try {
      cert = new X509Certificate(pem);
      key = createPrivateKey(keyText);
    } catch {
      throw new StartupError(`${path} or ${keyPath} is not a PEM certificate and key: move ${dir} away to start anew`);
    }
    if (!cert.ca || !cert.checkPrivateKey(key)) {
      throw new StartupError(`${keyPath} is not the key of the CA in ${path}: move ${dir} away to start anew`);
    }
    if (Date.parse(cert.validTo) - Date.now() < RENEW_BEFORE_MS) {
      log.warn('the controller CA expires soon: move the tls dir away and enroll the agents again', {
        ca: path,
        validTo: cert.validTo,
      });
    }
    return { pem, key, path };
  }
  const pair = newKeyPair();
  const now = Date.now();
  const created = issueCertificate({
    // Unique: a client finds a certificate's issuer by name, and two controllers may share a host name.
    commonName: `ogent CA ${hostname()} ${randomBytes(4).toString('hex')}`,
    publicKey: pair.publicKey,
    selfKey: pair.privateKey,
    notBefore: new Date(now - CLOCK_SKEW_MS),
    notAfter: new Date(now + CA_LIFETIME_MS),
    ca: true,
  });
  await writeAtomically(keyPath, keyPem(pair.privateKey), 0o600);
  await writeAtomically(path, created, 0o600);
  log.info('created the controller CA', { ca: path, fingerprint: certificateFingerprint(created) });
  return { pem: created, key: pair.privateKey, path };
}

/** Why the server certificate in `tls/` cannot be kept, or undefined when it can. */
function replaceReason(pem: string | undefined, keyText: string | undefined, ca: X509Certificate, names: string[]) {
  if (pem === undefined || keyText === undefined) return 'none yet';
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
    if (!cert.checkPrivateKey(createPrivateKey(keyText))) return 'its key does not match';
  } catch {
    return 'unreadable';
  }
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return 'not issued by this CA';
  if (Date.parse(cert.validTo) - Date.now() < RENEW_BEFORE_MS) return `expires ${cert.validTo}`;
  const has = new Set((cert.subjectAltName ?? '').split(', ').map((n) => n.replace(/^(DNS|IP Address):/, '')));
  const missing = names.filter((n) => !has.has(isIP(n) === 6 ? expandIpv6(n) : n));
  return missing.length ? `does not name ${missing.join(', ')}` : undefined;
}

/** How node:crypto writes an IPv6 address in `subjectAltName`: eight groups, no zero compression. */
function expandIpv6(address: string): string {
  const [head = '', tail = ''] = address.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::')
    ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
    : left;
  return groups.map((g) => g.replace(/^0+(?=.)/, '').toUpperCase()).join(':');
}

/**
 * The controller's own CA and server certificate in `DATA_DIR/tls/` (README, TLS): created on the first start,
 * reused after; the server certificate is replaced when it is within 30 days of its end, was not issued by the CA,
 * or does not name every one of `altNames`.
 */
export async function ensureOwnTls(dataDir: string, altNames: string[], log: Logger): Promise<OwnTls> {
  const dir = tlsDir(dataDir);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new StartupError(`cannot create ${dir}: ${(err as Error).message}`);
  }
  const ca = await ensureCa(dir, log);
  const caCert = new X509Certificate(ca.pem);
  const certPath = join(dir, 'server.pem');
  const keyPath = join(dir, 'server.key');
  let cert = await readIfThere(certPath);
  let key = await readIfThere(keyPath);
  const reason = replaceReason(cert, key, caCert, altNames);
  if (reason) {
    const pair = newKeyPair();
    const now = Date.now();
    cert = issueCertificate({
      commonName: hostname(),
      publicKey: pair.publicKey,
      issuer: { certificate: ca.pem, privateKey: ca.key },
      notBefore: new Date(now - CLOCK_SKEW_MS),
      notAfter: new Date(Math.min(now + SERVER_LIFETIME_MS, Date.parse(caCert.validTo))),
      altNames,
    });
    key = keyPem(pair.privateKey);
    await writeAtomically(keyPath, key, 0o600);
    await writeAtomically(certPath, cert, 0o600);
    log.info('issued the TLS server certificate', { certificate: certPath, reason, names: altNames });
  }
  return {
    cert: cert as string,
    key: key as string,
    ca: ca.pem,
    caPath: ca.path,
    fingerprint: certificateFingerprint(ca.pem),
  };
}

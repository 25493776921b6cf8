import { X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { EXIT, UserError, unreachableError, usageError } from '../lib/errors.js';
import { certificateFingerprint } from '../lib/x509.js';

/** The controller's CA, pinned at enrollment from the join token's fingerprint (docs/architecture.md §6.3). */
export const pinnedCaPath = (stateDir: string) => join(stateDir, 'ca.pem');

/** A CA certificate bigger than this is not one the controller made. */
const MAX_CA_BYTES = 64 * 1024;
const FETCH_TIMEOUT_MS = 30_000;

const pinError = (message: string, suggestion: string) =>
  new UserError(message, { code: 'ERR_CA_MISMATCH', exit: EXIT.unreachable, suggestion });

/** The pinned CA of an enrolled agent, or undefined when it has none; a file that is not one stops the agent. */
export async function readPinnedCa(stateDir: string): Promise<string | undefined> {
  const path = pinnedCaPath(stateDir);
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw usageError(`cannot read the pinned CA ${path} (${(err as NodeJS.ErrnoException).code})`);
  }
  try {
    new X509Certificate(pem);
  } catch {
    throw usageError(`${path} holds no PEM certificate`, 'move it away, and pass --ca FILE or enroll again');
  }
  return pem;
}

/** Temp file, then rename, next to the credential. */
export async function savePinnedCa(stateDir: string, pem: string): Promise<string> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const path = pinnedCaPath(stateDir);
  const temp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(temp, pem, { mode: 0o644 });
    await chmod(temp, 0o644);
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  return path;
}

/** `GET /ca.pem` without checking the certificate: what comes back is trusted only if its sha256 is the pinned one. */
function fetchUnverified(controller: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL('/ca.pem', controller),
      { rejectUnauthorized: false, timeout: FETCH_TIMEOUT_MS },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
          if (text.length > MAX_CA_BYTES) req.destroy(new Error(`more than ${MAX_CA_BYTES} bytes`));
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * The controller's CA certificate, fetched from `GET /ca.pem` over TLS without verification, then accepted only if
 * its sha256 is `fingerprint` (`sha256:HEX`, from the join token), as `kubeadm join --discovery-token-ca-cert-hash`
 * does. A mismatch is refused (exit 4, ERR_CA_MISMATCH): someone may be in the middle, or the token is another
 * controller's.
 */
export async function fetchPinnedCa(controller: string, fingerprint: string): Promise<string> {
  if (new URL(controller).protocol !== 'https:') {
    throw usageError(
      `the join token pins the controller's CA (${fingerprint}), but --controller ${controller} is plain http://`,
      'use https:// with the same host and port: the controller serves TLS with that CA',
    );
  }
  let answer: { status: number; text: string };
  try {
    answer = await fetchUnverified(controller);
  } catch (err) {
    throw unreachableError(
      `cannot fetch the controller's CA from ${controller}/ca.pem: ${(err as Error).message}`,
      'check --controller and that the controller runs; enrollment needs it',
    );
  }
  if (answer.status === 404) {
    throw pinError(
      `the controller at ${controller} serves no CA of its own, but the join token pins one (${fingerprint})`,
      'it now uses --tls-cert: pass --ca FILE with the CA that signed that certificate, or ask for a new join token',
    );
  }
  let got: string;
  try {
    if (answer.status !== 200) throw new Error(`HTTP ${answer.status}`);
    got = certificateFingerprint(answer.text);
  } catch (err) {
    throw pinError(
      `the controller at ${controller} answered GET /ca.pem with no certificate (${(err as Error).message})`,
      'check that --controller is the ogent controller that issued the join token',
    );
  }
  if (got !== fingerprint) {
    throw pinError(
      `refusing to enroll: the controller at ${controller} presented the CA ${got}, but the join token pins ${fingerprint}`,
      'someone may be intercepting the connection, or the token comes from another controller: check --controller, and compare with the fingerprint the controller logs (`ogent controller ca` on its host)',
    );
  }
  return answer.text;
}

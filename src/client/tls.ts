import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { usageError } from '../lib/errors.js';

export { certificateError, tlsCodeOf } from '../lib/tls-errors.js';

/** The PEM of `--ca FILE` (a CA, or the controller's own self-signed certificate); a bad file exits 2 with why. */
export async function readCa(path: string): Promise<string> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw usageError(`cannot read --ca ${path} (${e.code ?? e.message})`, 'pass the PEM file of the CA certificate');
  }
  try {
    new X509Certificate(pem);
  } catch {
    throw usageError(`--ca ${path} holds no PEM certificate`, 'pass the CA certificate (-----BEGIN CERTIFICATE-----)');
  }
  return pem;
}

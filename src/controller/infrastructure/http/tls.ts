import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { StartupError } from '../../../lib/errors.js';

export interface TlsFiles {
  /** PEM: the certificate, then any intermediates. */
  certFile: string;
  keyFile: string;
}

async function readPem(flag: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new StartupError(`cannot read ${flag} ${path} (${e.code ?? e.message}): pass a readable PEM file`);
  }
}

/** Reads and checks `--tls-cert`/`--tls-key` before anything starts: a bad file stops start-up with why. */
export async function loadTls(files: TlsFiles): Promise<{ cert: string; key: string }> {
  const cert = await readPem('--tls-cert', files.certFile);
  const key = await readPem('--tls-key', files.keyFile);
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch {
    throw new StartupError(`--tls-cert ${files.certFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new StartupError(`--tls-key ${files.keyFile} holds no PEM private key (unencrypted, -----BEGIN … KEY-----)`);
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new StartupError(
      `--tls-key ${files.keyFile} is not the key of the certificate in --tls-cert ${files.certFile}`,
    );
  }
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new StartupError(`--tls-cert/--tls-key cannot be used: ${(err as Error).message}`);
  }
  return { cert, key };
}

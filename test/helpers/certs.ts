import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestPki {
  /** The CA certificate clients pass with --ca. */
  ca: string;
  /** A certificate for 127.0.0.1 and localhost, signed by the CA, and its key. */
  cert: string;
  key: string;
}

/**
 * A private CA and a server certificate it signs (by default for 127.0.0.1 and localhost), made by openssl in `dir`.
 */
export async function makePki(dir: string, san = 'IP:127.0.0.1,DNS:localhost'): Promise<TestPki> {
  const p = (name: string) => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run('openssl', [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    p('ca.key'),
    '-out',
    p('ca.pem'),
    '-days',
    '2',
    '-subj',
    '/CN=ogent test CA',
  ]);
  await run('openssl', ['req', ...ec, '-keyout', p('server.key'), '-out', p('server.csr'), '-subj', '/CN=localhost']);
  await writeFile(p('server.ext'), `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`);
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    p('server.csr'),
    '-CA',
    p('ca.pem'),
    '-CAkey',
    p('ca.key'),
    '-CAcreateserial',
    '-out',
    p('server.pem'),
    '-days',
    '1',
    '-extfile',
    p('server.ext'),
  ]);
  return { ca: p('ca.pem'), cert: p('server.pem'), key: p('server.key') };
}

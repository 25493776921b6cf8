import { expect } from 'chai';
import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, get, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { ensureOwnTls, RENEW_BEFORE_MS, serverAltNames } from '../../src/controller/infrastructure/http/own-ca.js';
import type { Logger } from '../../src/lib/log.js';
import { certificateFingerprint, issueCertificate } from '../../src/lib/x509.js';
import { formatJoinToken, parseJoinToken } from '../../src/protocol/join-token.js';

/** A logger that keeps what it was told. */
const recording = () => {
  const lines: string[] = [];
  const log: Logger = {
    debug: () => {},
    info: (msg, fields) => lines.push(`${msg} ${JSON.stringify(fields ?? {})}`),
    warn: (msg, fields) => lines.push(`${msg} ${JSON.stringify(fields ?? {})}`),
    error: (msg, fields) => lines.push(`${msg} ${JSON.stringify(fields ?? {})}`),
  };
  return { log, lines };
};

/** Serves `tls` on 127.0.0.1 and answers a GET that trusts only `ca` for `servername`: the TLS error code or 'ok'. */
async function handshake(tls: { cert: string; key: string }, ca: string, servername: string): Promise<string> {
  const server: Server = createServer({ cert: tls.cert, key: tls.key }, (_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise<string>((resolve) => {
      get({ host: '127.0.0.1', port, ca, servername, path: '/' }, (res) => {
        res.resume();
        res.on('end', () => resolve('ok'));
      }).on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

describe('the controller’s own CA (DATA_DIR/tls)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ogent-own-ca-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const file = (name: string) => readFile(join(dir, 'tls', name), 'utf8');

  it('issues a server certificate that a client trusting only the CA accepts, for the names given only', async () => {
    const { log } = recording();
    const tls = await ensureOwnTls(dir, ['localhost', '127.0.0.1', 'ctl.example.com'], log);
    expect(tls.fingerprint)
      .to.equal(certificateFingerprint(tls.ca))
      .and.match(/^sha256:[0-9a-f]{64}$/);
    expect(new X509Certificate(tls.ca).ca).to.equal(true);
    expect(new X509Certificate(tls.cert).ca).to.equal(false);
    expect(await handshake(tls, tls.ca, 'ctl.example.com')).to.equal('ok');
    expect(await handshake(tls, tls.ca, 'other.example.com')).to.equal('ERR_TLS_CERT_ALTNAME_INVALID');
    const stranger = await ensureOwnTls(await mkdtemp(join(dir, 'other-')), ['ctl.example.com'], log);
    expect(await handshake(tls, stranger.ca, 'ctl.example.com')).to.equal('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('reuses both on the next start; replaces the server certificate (not the CA) near its end or for a new name', async () => {
    const { log, lines } = recording();
    const first = await ensureOwnTls(dir, ['localhost', '::1'], log);
    const again = await ensureOwnTls(dir, ['localhost', '::1'], log);
    expect(again).to.deep.equal(first);
    expect(lines.filter((l) => l.startsWith('issued the TLS server certificate'))).to.have.length(1);

    const renamed = await ensureOwnTls(dir, ['localhost', '::1', 'new.example.com'], log);
    expect(renamed.ca).to.equal(first.ca);
    expect(renamed.cert).not.to.equal(first.cert);
    expect(lines.at(-1)).to.include('does not name new.example.com');

    // A server certificate 10 days from its end, signed by the same CA: replaced at start.
    const caKey = await file('ca.key');
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const ending = issueCertificate({
      commonName: 'old',
      publicKey: pair.publicKey,
      issuer: { certificate: first.ca, privateKey: createPrivateKey(caKey) },
      notBefore: new Date(Date.now() - 300 * 86_400_000),
      notAfter: new Date(Date.now() + RENEW_BEFORE_MS / 3),
      altNames: ['localhost', '::1', 'new.example.com'],
    });
    await writeFile(join(dir, 'tls', 'server.pem'), ending);
    await writeFile(join(dir, 'tls', 'server.key'), pair.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const renewed = await ensureOwnTls(dir, ['localhost', '::1', 'new.example.com'], log);
    expect(lines.at(-1)).to.include('"reason":"expires');
    expect(renewed.ca).to.equal(first.ca);
    expect(Date.parse(new X509Certificate(renewed.cert).validTo) - Date.now()).to.be.greaterThan(300 * 86_400_000);
    expect(await file('server.pem')).to.equal(renewed.cert);
  });

  it('refuses to start on a CA certificate without its key, rather than make a new CA that no agent pinned', async () => {
    const { log } = recording();
    await ensureOwnTls(dir, ['localhost'], log);
    await rm(join(dir, 'tls', 'ca.key'));
    const err = await ensureOwnTls(dir, ['localhost'], log).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).to.include('ca.pem has no key').and.include('every agent must then enroll again');
  });

  it('names the listen host, loopback and --tls-san in the server certificate', () => {
    const names = serverAltNames('0.0.0.0', ['ctl.example.com', 'CTL.example.com']);
    expect(names).to.include.members(['0.0.0.0', 'localhost', '127.0.0.1', '::1', 'ctl.example.com']);
    expect(names.filter((n) => n === 'ctl.example.com')).to.have.length(1);
  });
});

describe('join tokens with a CA fingerprint', () => {
  it('carry it after a "." and give it back; a cut fingerprint is refused', () => {
    const fp = `sha256:${'0a'.repeat(32)}`;
    const token = formatJoinToken('ogj_secret', fp);
    expect(token).to.equal(`ogj_secret.${'0a'.repeat(32)}`);
    expect(parseJoinToken(token)).to.deep.equal({ secret: 'ogj_secret', caFingerprint: fp });
    expect(parseJoinToken('ogj_secret')).to.deep.equal({ secret: 'ogj_secret' });
    expect(formatJoinToken('ogj_secret')).to.equal('ogj_secret');
    expect(parseJoinToken('ogj_secret.0a0a')).to.equal(undefined);
  });
});

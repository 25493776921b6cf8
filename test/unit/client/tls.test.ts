import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveSession, writeStored } from '../../../src/client/credentials.js';
import { certificateError, readCa } from '../../../src/client/tls.js';
import { UserError } from '../../../src/lib/errors.js';
import { isLoopback } from '../../../src/lib/net.js';
import { plainHttpWarning } from '../../../src/lib/plain-http.js';

const CONTROLLER = 'https://ctl.example:8600';

describe('certificate errors', () => {
  const nodeError = (code: string) => Object.assign(new Error(code), { code });

  for (const code of [
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    'SELF_SIGNED_CERT_IN_CHAIN',
    'DEPTH_ZERO_SELF_SIGNED_CERT',
    'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  ]) {
    it(`${code}: "certificate not trusted", try --ca, exit 4`, () => {
      const err = certificateError(CONTROLLER, nodeError(code)) as UserError;
      expect(err).to.be.instanceOf(UserError);
      expect(err.message).to.equal(
        `certificate not trusted: the controller at ${CONTROLLER} presented a certificate no trusted CA signed (${code})`,
      );
      expect(err.options.suggestion).to.match(/^pass --ca FILE \(or set OGENT_CA\)/);
      expect(err.exit).to.equal(4);
      expect(err.code).to.equal('ERR_TLS');
    });
  }

  it('ERR_TLS_CERT_ALTNAME_INVALID names the host the URL used', () => {
    const err = certificateError(CONTROLLER, nodeError('ERR_TLS_CERT_ALTNAME_INVALID')) as UserError;
    expect(err.message).to.equal(
      "certificate not valid for ctl.example: the controller's certificate names other hosts (ERR_TLS_CERT_ALTNAME_INVALID)",
    );
    expect(err.exit).to.equal(4);
  });

  it('CERT_HAS_EXPIRED says to renew it', () => {
    const err = certificateError(CONTROLLER, nodeError('CERT_HAS_EXPIRED')) as UserError;
    expect(err.message).to.equal(
      `certificate expired: the controller at ${CONTROLLER} presented an expired certificate (CERT_HAS_EXPIRED)`,
    );
    expect(err.options.suggestion).to.include('renew');
  });

  it('finds the code where fetch (cause) and socket.io-client (description.error) put it', () => {
    const viaFetch = Object.assign(new Error('fetch failed'), { cause: nodeError('DEPTH_ZERO_SELF_SIGNED_CERT') });
    expect(certificateError(CONTROLLER, viaFetch)?.message).to.include('(DEPTH_ZERO_SELF_SIGNED_CERT)');
    const viaSocket = Object.assign(new Error('websocket error'), {
      type: 'TransportError',
      description: { error: nodeError('SELF_SIGNED_CERT_IN_CHAIN') },
    });
    expect(certificateError(CONTROLLER, viaSocket)?.message).to.include('(SELF_SIGNED_CERT_IN_CHAIN)');
  });

  it('is undefined for what is not a certificate problem', () => {
    expect(certificateError(CONTROLLER, nodeError('ECONNREFUSED'))).to.equal(undefined);
    expect(certificateError(CONTROLLER, new Error('websocket error'))).to.equal(undefined);
    expect(certificateError(CONTROLLER, undefined)).to.equal(undefined);
  });
});

describe('plain HTTP off loopback', () => {
  it('loopback is localhost, 127.0.0.0/8 and ::1, from the text alone', () => {
    for (const host of [
      'localhost',
      'LOCALHOST',
      '127.0.0.1',
      '127.1.2.3',
      '::1',
      '[::1]',
      '0:0:0:0:0:0:0:1',
      '::ffff:127.0.0.1',
    ]) {
      expect(isLoopback(host), host).to.equal(true);
    }
    for (const host of [
      '0.0.0.0',
      '::',
      '10.0.0.5',
      'ctl.example',
      '128.0.0.1',
      'localhost.example.com',
      'api.localhost',
      '::2',
    ]) {
      expect(isLoopback(host), host).to.equal(false);
    }
  });

  it('plain http:// to another host is a warning for this release (naming https and --insecure-http) unless allowed', () => {
    const warning = plainHttpWarning('http://10.0.0.5:8600', false);
    expect(warning).to.match(
      /^ogent: warning: plain HTTP to http:\/\/10\.0\.0\.5:8600, which is not a loopback address: passwords and tokens cross the network unencrypted\n/,
    );
    expect(warning).to.include('the next one refuses it unless --insecure-http (or OGENT_INSECURE_HTTP=1)');
    expect(warning).to.include('use https://');
    for (const ok of ['http://127.0.0.1:8600', 'http://[::1]:8600', 'http://localhost:1', 'https://10.0.0.5:8600']) {
      expect(plainHttpWarning(ok, false), ok).to.equal(undefined);
    }
    expect(plainHttpWarning('http://10.0.0.5:8600', true)).to.equal(undefined);
  });

  it('resolveSession lets a plain remote controller through (the warning is on stderr), with or without --insecure-http', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ogent-tls-unit-'));
    try {
      const env = { XDG_CONFIG_HOME: dir };
      const remote = 'http://ctl.example:8600';
      expect((await resolveSession({ controller: remote }, env)).controller).to.equal(remote);
      expect((await resolveSession({ controller: remote, 'insecure-http': true }, env)).controller).to.equal(remote);
      expect((await resolveSession({ controller: 'http://127.0.0.1:8600' }, env)).controller).to.equal(
        'http://127.0.0.1:8600',
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('resolveSession reads --ca', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ogent-tls-unit-'));
    try {
      const env = { XDG_CONFIG_HOME: dir };
      const pem = '-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n';
      await writeFile(join(dir, 'bad.pem'), pem);
      const refused = await resolveSession({ controller: CONTROLLER, ca: join(dir, 'bad.pem') }, env).then(
        () => undefined,
        (e: unknown) => e as UserError,
      );
      expect(refused?.message).to.equal(`--ca ${join(dir, 'bad.pem')} holds no PEM certificate`);
      expect(refused?.exit).to.equal(2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('resolveSession uses the CA that `ogent login --ca` stored, for that controller only; --ca wins', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ogent-tls-unit-'));
    try {
      const env = { XDG_CONFIG_HOME: dir };
      const ca = join(dir, 'ca.pem');
      const other = join(dir, 'other.pem');
      for (const file of [ca, other]) {
        execFileSync(
          'openssl',
          [
            'req',
            '-x509',
            '-newkey',
            'ec',
            '-pkeyopt',
            'ec_paramgen_curve:prime256v1',
            '-nodes',
            '-keyout',
            `${file}.key`,
            '-out',
            file,
            '-days',
            '1',
            '-subj',
            '/CN=stored',
          ],
          { stdio: 'ignore' },
        );
      }
      await writeStored(
        { controller: CONTROLLER, username: 'alice', token: 't', expiresAt: '2999-01-01T00:00:00.000Z', ca },
        env,
      );
      expect((await resolveSession({}, env)).ca).to.equal(await readFile(ca, 'utf8'));
      expect((await resolveSession({ ca: other }, env)).ca).to.equal(await readFile(other, 'utf8'));
      expect((await resolveSession({ controller: 'https://elsewhere:8600' }, env)).ca).to.equal(undefined);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('readCa: a missing file is a usage error (exit 2)', async () => {
    const missing = join(tmpdir(), 'ogent-no-such-ca.pem');
    const err = await readCa(missing).then(
      () => undefined,
      (e: unknown) => e as UserError,
    );
    expect(err?.message).to.equal(`cannot read --ca ${missing} (ENOENT)`);
    expect(err?.exit).to.equal(2);
  });
});

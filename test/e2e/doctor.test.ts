import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { DoctorReport } from '../../src/client/doctor.js';
import { VERSION } from '../../src/lib/version.js';
import { runCli } from '../helpers/cli.js';
import { ADMIN_PASSWORD, Fixtures } from '../helpers/fixtures.js';
import { freePort } from '../helpers/processes.js';

/** `ogent doctor` (real bin/run.js) against what goes wrong: each gets its own, correct diagnosis. */
describe('ogent doctor', function () {
  this.timeout(30_000);
  const fx = new Fixtures();
  let home: string;
  afterEach(() => fx.cleanup());
  beforeEach(async () => {
    home = await fx.tempDir('ogent-doctor-');
  });

  const doctor = async (args: string[], env: Record<string, string> = {}) => {
    const res = await runCli(['doctor', ...args], {
      env: {
        XDG_CONFIG_HOME: home,
        OGENT_CONTROLLER: undefined,
        OGENT_USERNAME: undefined,
        OGENT_PASSWORD: undefined,
        OGENT_TOKEN: undefined,
        ...env,
      },
    });
    return res;
  };
  const report = async (args: string[], env: Record<string, string> = {}) => {
    const res = await doctor([...args, '--json'], env);
    return { code: res.code, report: JSON.parse(res.stdout) as DoctorReport };
  };
  const check = (r: DoctorReport, name: string) => r.checks.find((c) => c.name === name);

  /** A real HTTPS server with a self-signed certificate made by openssl, answering /healthz with a clock 10 min ahead. */
  const httpsServer = async () => {
    const dir = await fx.tempDir();
    const [key, cert] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
    await promisify(execFile)('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '30',
      '-subj',
      '/CN=ogent-test',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ]);
    const server = createServer({ key: await readFile(key), cert: await readFile(cert) }, (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'ok', version: VERSION, time: new Date(Date.now() + 600_000).toISOString() }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    fx.defer(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, cert };
  };

  it('a wrong URL: nothing listens there (exit 4)', async () => {
    const { code, report: r } = await report(['--controller', `http://127.0.0.1:${await freePort()}`]);
    expect(code).to.equal(4);
    expect(check(r, 'controller')).to.include({ status: 'fail', code: 'ECONNREFUSED' });
    expect(check(r, 'controller')?.message).to.match(/^nothing listens on 127\.0\.0\.1:\d+ \(connection refused\)$/);
    expect(check(r, 'credentials')).to.equal(undefined);

    const text = await doctor(['--controller', 'http://no-such-host.invalid:8600']);
    expect(text.code).to.equal(4);
    expect(text.stdout).to.match(/✖ controller +the host name no-such-host\.invalid does not resolve\n/);
    expect(text.stdout).to.include('try: check the spelling of the URL');
    expect(text.stdout).to.match(/1 problem found\n$/);
  });

  it('a bad certificate: self-signed and not trusted (exit 4); trusted with --ca', async () => {
    const server = await httpsServer();
    const { code, report: r } = await report(['--controller', server.url]);
    expect(code).to.equal(4);
    const tls = check(r, 'tls');
    expect(tls).to.include({ status: 'fail', code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    expect(tls?.message).to.equal("the controller's certificate (ogent-test) is self-signed and not trusted here");
    expect(tls?.advice).to.include('--ca FILE');
    expect(check(r, 'controller')).to.equal(undefined);

    const trusted = await report(['--controller', server.url, '--ca', server.cert]);
    expect(check(trusted.report, 'tls')).to.include({ status: 'ok' });
    expect(check(trusted.report, 'tls')?.message).to.match(
      /^certificate for ogent-test .* is trusted; expires in 29 days$/,
    );
    expect(check(trusted.report, 'controller')).to.include({ status: 'ok' });
    // Then what is wrong past TLS: its clock, and no credentials in this home.
    expect(check(trusted.report, 'clock')).to.include({ status: 'fail' });
    expect(check(trusted.report, 'clock')?.message).to.match(
      /^the controller's clock is (599|600|601) s ahead of this host/,
    );
    expect(check(trusted.report, 'credentials')).to.include({ status: 'fail', code: 'not_logged_in' });
    expect(trusted.code).to.equal(1);
  });

  it('wrong credentials: the controller refuses the password (exit 3); right ones pass every check (exit 0)', async () => {
    const controller = await fx.controller();
    const wrong = await report(['--controller', controller.url], {
      OGENT_USERNAME: 'admin',
      OGENT_PASSWORD: 'not-the-password',
    });
    expect(wrong.code).to.equal(3);
    expect(check(wrong.report, 'controller')).to.include({ status: 'ok' });
    const credentials = check(wrong.report, 'credentials');
    expect(credentials).to.include({ status: 'fail', code: 'invalid_grant' });
    expect(credentials?.message).to.equal(
      'the controller refused user "admin" with this password (OGENT_USERNAME, OGENT_PASSWORD)',
    );

    const right = await report(['--controller', controller.url], {
      OGENT_USERNAME: 'admin',
      OGENT_PASSWORD: ADMIN_PASSWORD,
    });
    expect(right.code).to.equal(0);
    expect(right.report.checks.map((c) => [c.name, c.status])).to.deep.equal([
      ['controller', 'ok'],
      ['tls', 'ok'],
      ['version', 'ok'],
      ['clock', 'ok'],
      ['credentials', 'ok'],
    ]);
    expect(check(right.report, 'credentials')?.message).to.match(
      /^authenticated as "admin" \(admin\) with OGENT_USERNAME/,
    );

    // https:// to this plain HTTP controller: a fourth, different diagnosis.
    const https = await report(['--controller', controller.url.replace('http:', 'https:')]);
    expect(https.code).to.equal(4);
    expect(check(https.report, 'tls')?.message).to.match(/^127\.0\.0\.1:\d+ does not speak TLS$/);
  });
});

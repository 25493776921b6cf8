import { expect } from 'chai';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { login, request } from '../../src/client/http.js';
import type { StoredCredentials } from '../../src/client/credentials.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { Fixtures } from '../helpers/fixtures.js';
import { ADMIN_PASSWORD, controllerProcess, freePort, type ControllerProcess } from '../helpers/processes.js';

const noCredentials = {
  OGENT_CONTROLLER: undefined,
  OGENT_USERNAME: undefined,
  OGENT_PASSWORD: undefined,
  OGENT_TOKEN: undefined,
  OGENT_CA: undefined,
};

const refresh = (url: string, token: string) =>
  request(url, '/token', { form: { grant_type: 'refresh_token', refresh_token: token } });
/** Past the controller's 2 s tokens: an expiry waited for, not a speed measured. */
const pastTokenExpiry = () => new Promise((resolve) => setTimeout(resolve, 2500));

/**
 * Issue #29: tokens last an hour, so a person logged in again every hour. `ogent login` now keeps a refresh token, the
 * client renews the access token silently, and `ogent logout` ends the session on the controller (real processes).
 */
describe('a working day logged in: silent renewal and logout (real controller and bin/run.js)', function () {
  this.timeout(90_000);
  const fx = new Fixtures();
  let controller: ControllerProcess;
  let config: string;
  before(async () => {
    controller = await controllerProcess(await fx.tempDir(), await freePort(), ['--token-ttl', '2s']);
    fx.defer(async () => void (await controller.stop()));
    const admin = (await login(controller.url, 'admin', ADMIN_PASSWORD)).access_token;
    const add = await request(controller.url, '/api/v1/users', {
      token: admin,
      body: { name: 'olga', role: 'operator', password: 'olga-password-1' },
    });
    expect(add.status, add.text).to.equal(201);
  });
  after(() => fx.cleanup());
  beforeEach(async () => {
    config = await fx.tempDir('ogent-refresh-');
  });

  const ogent = (args: string[], input?: string): Promise<CliResult> =>
    runCli(args, { env: { ...noCredentials, XDG_CONFIG_HOME: config }, input, timeoutMs: 30_000 });
  const stored = async () =>
    JSON.parse(await readFile(join(config, 'ogent', 'credentials.json'), 'utf8')) as StoredCredentials;
  const logIn = async (user = 'olga', password = 'olga-password-1') => {
    const res = await ogent(
      ['login', '--controller', controller.url, '--username', user, '--password-stdin'],
      password,
    );
    expect(res.code, res.stderr).to.equal(0);
    return res;
  };

  it('login prints both validities; past the token expiry `ogent agents` still works and stores a new token', async () => {
    const res = await logIn();
    expect(res.stderr).to.include('token valid for 2 seconds, session for 12 hours');
    const before = await stored();
    expect(before.refreshToken).to.be.a('string');
    await pastTokenExpiry();
    const agents = await ogent(['agents']);
    expect(agents.code, agents.stderr).to.equal(0);
    const after = await stored();
    expect(after.token).not.to.equal(before.token);
    expect(after.refreshToken).to.equal(before.refreshToken);
    expect((await stat(join(config, 'ogent', 'credentials.json'))).mode & 0o777).to.equal(0o600);
  });

  it('`ogent logout` ends the session on the controller: its refresh token is refused', async () => {
    await logIn();
    const { refreshToken } = await stored();
    expect((await refresh(controller.url, refreshToken as string)).status).to.equal(200);
    const out = await ogent(['logout']);
    expect(out.code, out.stderr).to.equal(0);
    expect(out.stderr).to.equal('logged out\n');
    expect((await refresh(controller.url, refreshToken as string)).status).to.equal(401);
  });

  it('after a password change the next command past the token expiry exits 3: not logged in', async () => {
    await logIn();
    const passwd = await ogent(['users', 'passwd', 'olga', '--password-stdin'], 'olga-password-2');
    expect(passwd.code, passwd.stderr).to.equal(0);
    await pastTokenExpiry();
    const agents = await ogent(['agents']);
    expect(agents.code, agents.stderr).to.equal(3);
    expect(agents.stderr).to.include('not logged in').and.include('password changed').and.include('ogent login');
    await logIn('olga', 'olga-password-2');
  });

  it('after the user is removed and added again, its old session is refused (exit 3)', async () => {
    const adminConfig = await fx.tempDir('ogent-refresh-admin-');
    const admin = (args: string[], input?: string) =>
      runCli(args, { env: { ...noCredentials, XDG_CONFIG_HOME: adminConfig }, input, timeoutMs: 30_000 });
    const adminLogin = await admin(
      ['login', '--controller', controller.url, '--username', 'admin', '--password-stdin'],
      ADMIN_PASSWORD,
    );
    expect(adminLogin.code, adminLogin.stderr).to.equal(0);
    await admin(['users', 'add', 'tom', '--role', 'viewer', '--password-stdin'], 'tom-password-1');
    await logIn('tom', 'tom-password-1');
    const { refreshToken } = await stored();
    expect((await admin(['users', 'remove', 'tom'])).code).to.equal(0);
    expect(
      (await admin(['users', 'add', 'tom', '--role', 'viewer', '--password-stdin'], 'tom-password-1')).code,
    ).to.equal(0);
    expect((await refresh(controller.url, refreshToken as string)).status).to.equal(401);
    await pastTokenExpiry();
    const agents = await ogent(['agents']);
    expect(agents.code, agents.stderr).to.equal(3);
    expect(agents.stderr).to.include('not logged in');
  });

  it('`controller serve --refresh-ttl 0` gives no session; a bad value exits 2', async () => {
    const none = await controllerProcess(await fx.tempDir(), await freePort(), ['--refresh-ttl', '0']);
    fx.defer(async () => void (await none.stop()));
    const res = await runCli(['login', '--controller', none.url, '--username', 'admin', '--password-stdin'], {
      env: { ...noCredentials, XDG_CONFIG_HOME: config },
      input: ADMIN_PASSWORD,
    });
    expect(res.code, res.stderr).to.equal(0);
    expect(res.stderr).to.include('token valid for 1 hour,').and.not.include('session for');
    expect(await stored()).not.to.have.property('refreshToken');
    const bad = await ogent(['controller', 'serve', '--port', '0', '--refresh-ttl', 'soon']);
    expect(bad.code, bad.stderr).to.equal(2);
    expect(bad.stderr).to.include('--refresh-ttl');
  });

  it('logout with the controller unreachable still forgets the credentials, warns, and exits 0', async () => {
    const gone = await controllerProcess(await fx.tempDir(), await freePort());
    const res = await runCli(['login', '--controller', gone.url, '--username', 'admin', '--password-stdin'], {
      env: { ...noCredentials, XDG_CONFIG_HOME: config },
      input: ADMIN_PASSWORD,
    });
    expect(res.code, res.stderr).to.equal(0);
    await gone.stop();
    const out = await ogent(['logout']);
    expect(out.code, out.stderr).to.equal(0);
    expect(out.stderr).to.include('the session could not be revoked').and.include('logged out');
    const left = await stat(join(config, 'ogent', 'credentials.json')).catch((err: NodeJS.ErrnoException) => err.code);
    expect(left).to.equal('ENOENT');
  });
});

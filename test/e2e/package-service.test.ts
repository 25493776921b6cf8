import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BIN, runCli } from '../helpers/cli.js';

const run = promisify(execFile);

/** `ogent agent|controller service install` from bin/run.js (the binary's own are in package.test.ts). */
describe('service install (bin/run.js)', function () {
  this.timeout(30_000);
  let dir: string;
  const noSecrets = {
    OGENT_PASSWORD: undefined,
    OGENT_JOIN_TOKEN: undefined,
    OGENT_ADMIN_PASSWORD: undefined,
    OGENT_AI_API_KEY: undefined,
  };
  const field = (unit: string, key: string) =>
    unit
      .split('\n')
      .filter((l) => l.startsWith(`${key}=`))
      .map((l) => l.slice(key.length + 1));
  const verify = async (unit: string, name: string) => {
    await run('systemd-analyze', ['--version']).catch(() => {
      throw new Error('systemd-analyze is missing: install systemd (apt-get install systemd; .ci/run does)');
    });
    await writeFile(join(dir, name), unit);
    return run('systemd-analyze', ['verify', join(dir, name)]).then(
      (r) => ({ code: 0, stderr: r.stderr }),
      (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
    );
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ogent-svc-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('agent --print: node and bin/run.js in ExecStart, quoted where needed, accepted by systemd-analyze verify', async () => {
    const res = await runCli(
      [
        'agent',
        'service',
        'install',
        '--print',
        '--controller',
        'https://ctl:8600',
        '--name',
        'web-1',
        '--label',
        'role=web',
        '--state-dir',
        '/srv/ogent state',
        '--log-level',
        'debug',
      ],
      { env: { ...noSecrets, OGENT_CONTROLLER: 'http://from-env:1', OGENT_LOG_LEVEL: 'error' } },
    );
    expect(res.code, res.stderr).to.equal(0);
    // Only what was typed: not OGENT_CONTROLLER nor OGENT_LOG_LEVEL from the installer's environment.
    expect(field(res.stdout, 'ExecStart')).to.deep.equal([
      `${process.execPath} ${await realpath(BIN)} agent run --controller https://ctl:8600 --name web-1 ` +
        '--label role=web --state-dir "/srv/ogent state" --log-level debug',
    ]);
    expect(await stat(join(dir, 'ogent-agent.service')).catch(() => null), 'nothing written').to.equal(null);
    const verified = await verify(res.stdout, 'ogent-agent.service');
    expect(verified, verified.stderr).to.deep.equal({ code: 0, stderr: '' });
  });

  it('agent: refuses bad flags (exit 2) and a missing password (exit 2), writing nothing', async () => {
    const install = ['agent', 'service', 'install', '--unit-dir', dir, '--environment-file', join(dir, 'agent.env')];
    const label = await runCli([...install, '--label', 'nokey'], { env: noSecrets });
    expect(label.code).to.equal(2);
    expect(label.stderr).to.include('invalid --label "nokey"');
    const level = await runCli([...install, '--log-level', 'loud'], { env: noSecrets });
    expect(level.code).to.equal(2);
    const none = await runCli(install, { env: noSecrets });
    expect(none.code).to.equal(2);
    expect(none.stderr).to.include('no OGENT_PASSWORD nor OGENT_JOIN_TOKEN for the service');
    expect(await stat(join(dir, 'ogent-agent.service')).catch(() => null)).to.equal(null);
  });

  it('off loopback: the agent install warns about plain HTTP (this release) and the controller one needs no TLS flag', async () => {
    const agent = ['agent', 'service', 'install', '--unit-dir', dir, '--environment-file', join(dir, 'agent.env')];
    const env = { env: { ...noSecrets, OGENT_PASSWORD: 'from-env-pw' } };
    const warned = await runCli([...agent, '--controller', 'http://ctl:8600'], env);
    expect(warned.code, warned.stderr).to.equal(0);
    expect(warned.stderr).to.include('ogent: warning: plain HTTP to http://ctl:8600').and.include('--insecure-http');
    // Off loopback without --tls-cert, `controller serve` makes its own CA: nothing to refuse.
    const controller = ['controller', 'service', 'install', '--unit-dir', dir, '--host', '0.0.0.0'];
    const installed = await runCli([...controller, '--environment-file', join(dir, 'c.env')], env);
    expect(installed.code, installed.stderr).to.equal(0);
    expect(field(await readFile(join(dir, 'ogent-controller.service'), 'utf8'), 'ExecStart')[0]).to.include(
      'controller serve --host 0.0.0.0',
    );

    const allowed = await runCli([...agent, '--controller', 'http://ctl:8600', '--insecure-http'], env);
    expect(allowed.code, allowed.stderr).to.equal(0);
    expect(field(await readFile(join(dir, 'ogent-agent.service'), 'utf8'), 'ExecStart')[0]).to.include(
      'agent run --controller http://ctl:8600 --insecure-http',
    );
  });

  it('agent: OGENT_PASSWORD from the environment goes to the environment file, not the unit', async () => {
    const res = await runCli(
      [
        'agent',
        'service',
        'install',
        '--unit-dir',
        dir,
        '--environment-file',
        join(dir, 'agent.env'),
        '--user',
        'ogent',
      ],
      { env: { ...noSecrets, OGENT_PASSWORD: 'from-env-pw' } },
    );
    expect(res.code, res.stderr).to.equal(0);
    expect(res.stdout).to.equal(
      `wrote ${join(dir, 'agent.env')} (OGENT_PASSWORD, mode 0600)\n` +
        `wrote ${join(dir, 'ogent-agent.service')}\n` +
        'start it: systemctl daemon-reload && systemctl enable --now ogent-agent && systemctl status ogent-agent\n',
    );
    expect(await readFile(join(dir, 'agent.env'), 'utf8')).to.equal("OGENT_PASSWORD='from-env-pw'\n");
    const unit = await readFile(join(dir, 'ogent-agent.service'), 'utf8');
    expect(unit).to.not.include('from-env-pw');
    expect(field(unit, 'User')).to.deep.equal(['ogent']);
  });

  it('agent: --join-token goes to the environment file, --ca to the unit; no password needed', async () => {
    const res = await runCli(
      [
        'agent',
        'service',
        'install',
        '--unit-dir',
        dir,
        '--environment-file',
        join(dir, 'agent.env'),
        '--controller',
        'https://ctl:8600',
        '--ca',
        '/etc/ogent/ca.pem',
        '--join-token',
        'ogj_secret-join-token',
      ],
      { env: noSecrets },
    );
    expect(res.code, res.stderr).to.equal(0);
    expect(res.stdout).to.include(`wrote ${join(dir, 'agent.env')} (OGENT_JOIN_TOKEN, mode 0600)\n`);
    expect(await readFile(join(dir, 'agent.env'), 'utf8')).to.equal("OGENT_JOIN_TOKEN='ogj_secret-join-token'\n");
    const unit = await readFile(join(dir, 'ogent-agent.service'), 'utf8');
    expect(unit).to.not.include('ogj_secret-join-token');
    expect(field(unit, 'ExecStart')[0]).to.include('agent run --controller https://ctl:8600 --ca /etc/ogent/ca.pem');
  });

  it('controller: OGENT_ADMIN_PASSWORD to its environment file; the unit verifies', async () => {
    const res = await runCli(
      [
        'controller',
        'service',
        'install',
        '--unit-dir',
        dir,
        '--environment-file',
        join(dir, 'controller.env'),
        '--host',
        '0.0.0.0',
        '--port',
        '8600',
        '--insecure-http',
        '--token-ttl',
        '30m',
      ],
      { env: { ...noSecrets, OGENT_ADMIN_PASSWORD: 'first-admin-pw' } },
    );
    expect(res.code, res.stderr).to.equal(0);
    expect(await readFile(join(dir, 'controller.env'), 'utf8')).to.equal("OGENT_ADMIN_PASSWORD='first-admin-pw'\n");
    expect((await stat(join(dir, 'controller.env'))).mode & 0o777).to.equal(0o600);
    const unit = await readFile(join(dir, 'ogent-controller.service'), 'utf8');
    expect(field(unit, 'ExecStart')[0]).to.match(
      / controller serve --host 0\.0\.0\.0 --port 8600 --insecure-http --token-ttl 30m --data-dir \/var\/lib\/ogent-controller$/,
    );
    expect(field(unit, 'EnvironmentFile')).to.deep.equal([`-${join(dir, 'controller.env')}`]);
    const verified = await verify(unit, 'ogent-controller.service');
    expect(verified, verified.stderr).to.deep.equal({ code: 0, stderr: '' });
  });
});

import { expect } from 'chai';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { Agent } from '../../src/domain/model.js';
import { runCli, startDaemon, type CliResult } from '../helpers/cli.js';
import { waitFor } from '../helpers/fixtures.js';
import { ADMIN_PASSWORD, adminToken, api, createAgentUsers } from '../helpers/processes.js';
import { processScope } from '../helpers/scope.js';

const CLIENT_REFUSAL = /refusing plain HTTP to http:\/\/0\.0\.0\.0:\d+: it is not a loopback address/;
const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/**
 * Issue 20, #10: plain HTTP off loopback is refused unless asked for, by the real `bin/run.js` of each part. The
 * controller listens on 0.0.0.0, and the other parts reach it as http://0.0.0.0:PORT: on Linux that address
 * reaches this host, and it is not loopback (127.0.0.0/8, ::1, localhost), so every rule applies as to another host.
 */
describe('plain HTTP off loopback needs --insecure-http (real processes)', function () {
  this.timeout(120_000);
  const scope = processScope('ogent-insecure-');
  const env = (extra: Record<string, string | undefined> = {}) => ({
    OGENT_CONTROLLER: undefined,
    OGENT_USERNAME: undefined,
    OGENT_PASSWORD: undefined,
    OGENT_TOKEN: undefined,
    OGENT_CA: undefined,
    OGENT_JOIN_TOKEN: undefined,
    OGENT_INSECURE_HTTP: undefined,
    OGENT_HOST: undefined,
    XDG_CONFIG_HOME: join(scope.root, 'config'),
    XDG_STATE_HOME: join(scope.root, 'state'),
    XDG_DATA_HOME: join(scope.root, 'data'),
    ...extra,
  });
  const ogent = (args: string[], extra: Record<string, string | undefined> = {}, input?: string): Promise<CliResult> =>
    runCli(args, { env: env(extra), input, timeoutMs: 60_000 });

  /** A controller on 0.0.0.0 (plain HTTP, asked for), with a local agent; its loopback URL and its 0.0.0.0 one. */
  const controller = async () => {
    const daemon = scope.track(
      await startDaemon(
        [
          'controller',
          'serve',
          '--host',
          '0.0.0.0',
          '--port',
          '0',
          '--insecure-http',
          '--local-agent',
          '--local-agent-name',
          'here',
          '--data-dir',
          join(scope.root, 'ctl'),
        ],
        /listening on (http:\/\/\S+)/,
        { env: env({ OGENT_ADMIN_PASSWORD: ADMIN_PASSWORD }) },
      ),
    );
    const loopback = daemon.match[1] as string;
    return { daemon, loopback, remote: loopback.replace('127.0.0.1', '0.0.0.0') };
  };

  it('controller: serve --host 0.0.0.0 without TLS exits 2 naming TLS and --insecure-http; with the flag it serves', async () => {
    const dataDir = join(scope.root, 'refused');
    const refused = await ogent(['controller', 'serve', '--host', '0.0.0.0', '--port', '0', '--data-dir', dataDir]);
    expect(refused.code, refused.stderr).to.equal(2);
    expect(refused.stderr).to.match(/^ogent: refusing to serve plain HTTP on 0\.0\.0\.0: it is not a loopback address/);
    expect(refused.stderr).to.include('--tls-cert FILE --tls-key FILE').and.include('--insecure-http');
    expect(await exists(dataDir), 'a store was created').to.equal(false);

    const { daemon, loopback } = await controller();
    expect((await fetch(`${loopback}/healthz`)).status).to.equal(200);
    expect(daemon.output()).to.include('serving plain HTTP on a non-loopback address (--insecure-http)');
  });

  it('clients: login, agents and exec refuse http:// to a non-loopback host (exit 2); the flag or OGENT_INSECURE_HTTP=1 lets them', async () => {
    const { remote } = await controller();
    const asAdmin = { OGENT_USERNAME: 'admin', OGENT_PASSWORD: ADMIN_PASSWORD };

    const login = ['login', '--controller', remote, '--username', 'admin', '--password-stdin'];
    const refusedLogin = await ogent(login, {}, ADMIN_PASSWORD);
    expect(refusedLogin.code, refusedLogin.stderr).to.equal(2);
    expect(refusedLogin.stderr).to.match(CLIENT_REFUSAL);
    expect(refusedLogin.stderr).to.include('TLS (--tls-cert/--tls-key)').and.include('--insecure-http');
    expect(refusedLogin.stderr).to.include('OGENT_INSECURE_HTTP=1');

    for (const args of [
      ['agents', '--controller', remote],
      ['exec', '--controller', remote, '--all', '--', 'echo', 'hi'],
      ['jobs', 'list', '--controller', remote],
    ]) {
      const res = await ogent(args, asAdmin);
      expect(res.code, `${args.join(' ')}: ${res.stderr}`).to.equal(2);
      expect(res.stderr).to.match(CLIENT_REFUSAL);
    }

    const exec = await ogent(['exec', '--controller', remote, '--all', '--', 'echo', 'hi'], {
      ...asAdmin,
      OGENT_INSECURE_HTTP: '1',
    });
    expect(exec.code, exec.stderr).to.equal(0);
    expect(exec.stdout).to.equal('here: hi\n');
    const agents = await ogent(['agents', '--controller', remote, '--insecure-http', '--json'], asAdmin);
    expect(agents.code, agents.stderr).to.equal(0);

    // doctor says the same: a failed tls check without the flag, a warning with it.
    const tlsCheck = async (args: string[]) => {
      const res = await ogent(['doctor', '--controller', remote, '--json', ...args], asAdmin);
      const report = JSON.parse(res.stdout) as { checks: Array<{ name: string; status: string }> };
      return report.checks.find((c) => c.name === 'tls')?.status;
    };
    expect(await tlsCheck([])).to.equal('fail');
    expect(await tlsCheck(['--insecure-http'])).to.equal('warn');

    // `login --insecure-http` allows it for the later commands to that controller (as `login --ca` keeps its CA).
    const loggedIn = await ogent([...login, '--insecure-http'], {}, ADMIN_PASSWORD);
    expect(loggedIn.code, loggedIn.stderr).to.equal(0);
    const later = await ogent(['agents', '--json']);
    expect(later.code, later.stderr).to.equal(0);
    expect((JSON.parse(later.stdout) as { agents: Agent[] }).agents.map((a) => a.name)).to.include('here');
  });

  it('agents: agent run, and enrollment with a join token, refuse it (exit 2) and connect with --insecure-http', async () => {
    const { loopback, remote } = await controller();
    await createAgentUsers(loopback, 'plain', 1);
    const password = { OGENT_PASSWORD: 'pw-plain-1-123456' };

    const refused = await ogent(['agent', 'run', '--controller', remote, '--name', 'plain-1'], password);
    expect(refused.code, refused.stderr).to.equal(2);
    expect(refused.stderr).to.match(CLIENT_REFUSAL);

    const stateDir = join(scope.root, 'enrolled');
    const enroll = await ogent([
      'agent',
      'run',
      '--controller',
      remote,
      '--join-token',
      'ogj_never-sent',
      '--name',
      'joiner',
      '--state-dir',
      stateDir,
    ]);
    expect(enroll.code, enroll.stderr).to.equal(2);
    expect(enroll.stderr).to.match(CLIENT_REFUSAL);
    expect(await exists(join(stateDir, 'credential.json'))).to.equal(false);

    scope.track(
      await startDaemon(
        ['agent', 'run', '--controller', remote, '--insecure-http', '--name', 'plain-1', '--state-dir', stateDir],
        /agent starting/,
        { env: env(password) },
      ),
    );
    const token = await adminToken(loopback);
    await waitFor(async () => {
      const { agents } = await api<{ agents: Agent[] }>(loopback, token, '/api/v1/agents');
      return agents.some((a) => a.name === 'plain-1' && a.status === 'online');
    }, 'plain-1 online over plain HTTP');
  });
});

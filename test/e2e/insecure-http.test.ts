import { expect } from 'chai';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { Agent } from '../../src/domain/model.js';
import { runCli, startDaemon, type CliResult } from '../helpers/cli.js';
import { waitFor } from '../helpers/fixtures.js';
import { ADMIN_PASSWORD, adminToken, api, createAgentUsers } from '../helpers/processes.js';
import { processScope } from '../helpers/scope.js';

const WARNING = /ogent: warning: plain HTTP to http:\/\/0\.0\.0\.0:\d+, which is not a loopback address/g;
const WARNED = new RegExp(WARNING.source);
/** The plain-HTTP warning is on stderr exactly once (README, TLS: this release warns, the next refuses). */
const warnedOnce = (res: CliResult) => expect(res.stderr.match(WARNING) ?? [], res.stderr).to.have.length(1);
const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/**
 * Issue 20, #10 and issue 22: plain HTTP off loopback, by the real `bin/run.js` of each part. The controller serves it
 * only with --insecure-http (else TLS with its own CA, own-ca.test.ts); clients and agents that use it keep working
 * for this release with a warning on stderr, so that an upgrade cuts no agent off. The
 * controller listens on 0.0.0.0, and the other parts reach it as http://0.0.0.0:PORT: on Linux that address
 * reaches this host, and it is not loopback (127.0.0.0/8, ::1, localhost), so every rule applies as to another host.
 */
describe('plain HTTP off loopback: --insecure-http for the controller, a warning for the others (real processes)', function () {
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

  it('controller: serve --host 0.0.0.0 without TLS serves HTTPS (its own CA); --insecure-http serves plain HTTP', async () => {
    const dataDir = join(scope.root, 'tls-by-default');
    const https = scope.track(
      await startDaemon(
        ['controller', 'serve', '--host', '0.0.0.0', '--port', '0', '--data-dir', dataDir],
        /listening on (\S+)/,
        { env: env({ OGENT_ADMIN_PASSWORD: ADMIN_PASSWORD }) },
      ),
    );
    expect(https.match[1]).to.match(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(await exists(join(dataDir, 'tls', 'ca.pem'))).to.equal(true);

    const { daemon, loopback } = await controller();
    expect((await fetch(`${loopback}/healthz`)).status).to.equal(200);
    expect(daemon.output()).to.include('serving plain HTTP on a non-loopback address (--insecure-http)');
    expect(await exists(join(scope.root, 'ctl', 'tls'))).to.equal(false);
  });

  it('clients: login, agents, exec and jobs to http:// on a non-loopback host work with one warning; the flag or OGENT_INSECURE_HTTP=1 silences it', async () => {
    const { remote } = await controller();
    const asAdmin = { OGENT_USERNAME: 'admin', OGENT_PASSWORD: ADMIN_PASSWORD };

    const login = ['login', '--controller', remote, '--username', 'admin', '--password-stdin'];
    const warnedLogin = await ogent(login, {}, ADMIN_PASSWORD);
    expect(warnedLogin.code, warnedLogin.stderr).to.equal(0);
    warnedOnce(warnedLogin);
    expect(warnedLogin.stderr).to.include('the next one refuses it unless --insecure-http (or OGENT_INSECURE_HTTP=1)');

    for (const args of [
      ['agents', '--controller', remote, '--json'],
      ['exec', '--controller', remote, '--all', '--', 'echo', 'hi'],
      ['jobs', 'list', '--controller', remote],
    ]) {
      const res = await ogent(args, asAdmin);
      expect(res.code, `${args.join(' ')}: ${res.stderr}`).to.equal(0);
      warnedOnce(res);
    }

    const exec = await ogent(['exec', '--controller', remote, '--all', '--', 'echo', 'hi'], {
      ...asAdmin,
      OGENT_INSECURE_HTTP: '1',
    });
    expect(exec.code, exec.stderr).to.equal(0);
    expect(exec.stdout).to.equal('here: hi\n');
    expect(exec.stderr).not.to.match(WARNED);
    const agents = await ogent(['agents', '--controller', remote, '--insecure-http', '--json'], asAdmin);
    expect(agents.code, agents.stderr).to.equal(0);
    expect(agents.stderr).not.to.match(WARNED);

    // doctor warns either way (the other commands go on), and says more without the flag.
    const tlsCheck = async (args: string[]) => {
      const res = await ogent(['doctor', '--controller', remote, '--json', ...args], asAdmin);
      const report = JSON.parse(res.stdout) as { checks: Array<{ name: string; status: string; message: string }> };
      return report.checks.find((c) => c.name === 'tls');
    };
    const without = await tlsCheck([]);
    expect(without?.status).to.equal('warn');
    expect(without?.message).to.include('the next release refuses it without --insecure-http');
    expect((await tlsCheck(['--insecure-http']))?.status).to.equal('warn');

    // `login --insecure-http` allows it for the later commands to that controller (as `login --ca` keeps its CA).
    const loggedIn = await ogent([...login, '--insecure-http'], {}, ADMIN_PASSWORD);
    expect(loggedIn.code, loggedIn.stderr).to.equal(0);
    const later = await ogent(['agents', '--json']);
    expect(later.code, later.stderr).to.equal(0);
    expect(later.stderr).not.to.match(WARNED);
    expect((JSON.parse(later.stdout) as { agents: Agent[] }).agents.map((a) => a.name)).to.include('here');
  });

  it('agents: agent run, and enrollment with a join token, over plain HTTP keep working with one warning', async () => {
    const { loopback, remote } = await controller();
    await createAgentUsers(loopback, 'plain', 1);
    const password = { OGENT_PASSWORD: 'pw-plain-1-123456' };
    const token = await adminToken(loopback);
    const online = (name: string) =>
      waitFor(async () => {
        const { agents } = await api<{ agents: Agent[] }>(loopback, token, '/api/v1/agents');
        return agents.some((a) => a.name === name && a.status === 'online');
      }, `${name} online over plain HTTP`);

    const plain = scope.track(
      await startDaemon(
        ['agent', 'run', '--controller', remote, '--name', 'plain-1', '--state-dir', join(scope.root, 'plain-1')],
        /agent starting/,
        { env: env(password) },
      ),
    );
    await online('plain-1');
    expect(plain.output().match(WARNING) ?? []).to.have.length(1);

    // A controller serving plain HTTP issues join tokens without a CA fingerprint: nothing to pin.
    const issued = await api<{ token: string; caFingerprint?: string }>(
      loopback,
      token,
      '/api/v1/enroll-tokens',
      'POST',
      {},
    );
    expect(issued.token).to.match(/^ogj_[A-Za-z0-9_-]{43}$/);
    expect(issued.caFingerprint).to.equal(undefined);
    const stateDir = join(scope.root, 'enrolled');
    const joiner = scope.track(
      await startDaemon(
        [
          'agent',
          'run',
          '--controller',
          remote,
          '--join-token',
          issued.token,
          '--name',
          'joiner',
          '--state-dir',
          stateDir,
        ],
        /agent starting/,
        { env: env() },
      ),
    );
    await online('joiner');
    expect(joiner.output().match(WARNING) ?? []).to.have.length(1);
    expect(await exists(join(stateDir, 'credential.json'))).to.equal(true);
    expect(await exists(join(stateDir, 'ca.pem'))).to.equal(false);

    // --insecure-http: the same, without the warning.
    await plain.stop('SIGTERM');
    const allowed = scope.track(
      await startDaemon(
        [
          'agent',
          'run',
          '--controller',
          remote,
          '--insecure-http',
          '--name',
          'plain-1',
          '--state-dir',
          join(scope.root, 'plain-1'),
        ],
        /agent starting/,
        { env: env(password) },
      ),
    );
    await online('plain-1');
    expect(allowed.output()).not.to.match(WARNED);
  });
});

import { expect } from 'chai';
import { X509Certificate } from 'node:crypto';
import { access, readFile, stat } from 'node:fs/promises';
import { get } from 'node:https';
import { join } from 'node:path';
import type { Agent } from '../../src/domain/model.js';
import { runCli, startDaemon, type CliResult } from '../helpers/cli.js';
import { waitFor } from '../helpers/fixtures.js';
import { ADMIN_PASSWORD, freePort } from '../helpers/processes.js';
import { processScope } from '../helpers/scope.js';

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );
/** A GET over HTTPS trusting only `ca`: the body. */
const getText = (url: string, ca: string) =>
  new Promise<string>((resolve, reject) => {
    get(url, { ca }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve(text));
    }).on('error', reject);
  });
const FINGERPRINT = /"fingerprint":"(sha256:[0-9a-f]{64})"/;

/**
 * A controller off loopback without --tls-cert serves HTTPS with its own CA (README, TLS), by the real `bin/run.js`.
 * It listens on 0.0.0.0 and the other parts reach it as https://0.0.0.0:PORT: that address reaches this host and is
 * not loopback (as in insecure-http.test.ts), and the certificate must name it.
 */
describe('the controller’s own CA, pinned by join tokens (real processes)', function () {
  this.timeout(180_000);
  const scope = processScope('ogent-own-ca-');
  const env = (extra: Record<string, string | undefined> = {}) => ({
    OGENT_CONTROLLER: undefined,
    OGENT_USERNAME: undefined,
    OGENT_PASSWORD: undefined,
    OGENT_TOKEN: undefined,
    OGENT_CA: undefined,
    OGENT_JOIN_TOKEN: undefined,
    OGENT_INSECURE_HTTP: undefined,
    OGENT_HOST: undefined,
    OGENT_TLS_SAN: undefined,
    XDG_CONFIG_HOME: join(scope.root, 'config'),
    XDG_STATE_HOME: join(scope.root, 'state'),
    XDG_DATA_HOME: join(scope.root, 'data'),
    ...extra,
  });
  const ogent = (args: string[], extra: Record<string, string | undefined> = {}, input?: string): Promise<CliResult> =>
    runCli(args, { env: env(extra), input, timeoutMs: 60_000 });
  const dataDir = () => join(scope.root, 'ctl');
  const caFile = () => join(dataDir(), 'tls', 'ca.pem');

  /** `controller serve --host 0.0.0.0` with no TLS flag; its https://0.0.0.0 URL and the fingerprint it logged. */
  const controller = async (port = 0) => {
    const daemon = scope.track(
      await startDaemon(
        ['controller', 'serve', '--host', '0.0.0.0', '--port', String(port), '--data-dir', dataDir()],
        /listening on (https:\/\/\S+)/,
        { env: env({ OGENT_ADMIN_PASSWORD: ADMIN_PASSWORD }), timeoutMs: 60_000 },
      ),
    );
    const remote = (daemon.match[1] as string).replace('127.0.0.1', '0.0.0.0');
    await waitFor(() => FINGERPRINT.test(daemon.output()), 'the CA fingerprint in the log');
    return { daemon, remote, fingerprint: (FINGERPRINT.exec(daemon.output()) as RegExpExecArray)[1] as string };
  };
  const asAdmin = (remote: string) => ({
    OGENT_CONTROLLER: remote,
    OGENT_USERNAME: 'admin',
    OGENT_PASSWORD: ADMIN_PASSWORD,
    OGENT_CA: caFile(),
  });
  const issueToken = async (remote: string) => {
    const res = await ogent(['agents', 'enroll-token', '--json'], asAdmin(remote));
    expect(res.code, res.stderr).to.equal(0);
    return JSON.parse(res.stdout) as { token: string; caFingerprint?: string };
  };
  const agentOnline = async (remote: string, name: string) =>
    waitFor(async () => {
      const res = await ogent(['agents', '--json'], asAdmin(remote));
      return (JSON.parse(res.stdout) as { agents: Agent[] }).agents.some(
        (a) => a.name === name && a.status === 'online',
      );
    }, `${name} online`);

  it('creates its CA and certificate in DATA_DIR/tls (0600), logs the fingerprint, and reuses them on restart', async () => {
    const port = await freePort();
    const first = await controller(port);
    expect(first.daemon.output()).to.include(`"ca":"${caFile()}"`);
    for (const file of ['ca.pem', 'ca.key', 'server.pem', 'server.key']) {
      expect((await stat(join(dataDir(), 'tls', file))).mode & 0o777, file).to.equal(0o600);
    }
    const caPem = await readFile(caFile(), 'utf8');
    const serverPem = await readFile(join(dataDir(), 'tls', 'server.pem'), 'utf8');
    const server = new X509Certificate(serverPem);
    expect(server.checkIssued(new X509Certificate(caPem))).to.equal(true);
    expect(server.subjectAltName).to.include('IP Address:0.0.0.0').and.include('DNS:localhost');

    // `controller ca` prints the same certificate and fingerprint; GET /ca.pem serves it.
    const printed = await ogent(['controller', 'ca', '--data-dir', dataDir()]);
    expect(printed.code, printed.stderr).to.equal(0);
    expect(printed.stdout).to.equal(caPem);
    expect(printed.stderr).to.equal(`${caFile()}\n${first.fingerprint}\n`);
    expect(await getText(`${first.remote}/ca.pem`, caPem)).to.equal(caPem);

    await first.daemon.stop('SIGTERM');
    const again = await controller(port);
    expect(again.fingerprint).to.equal(first.fingerprint);
    expect(await readFile(caFile(), 'utf8')).to.equal(caPem);
    expect(await readFile(join(dataDir(), 'tls', 'server.pem'), 'utf8')).to.equal(serverPem);
    expect(again.daemon.output()).not.to.include('issued the TLS server certificate');
  });

  it('an agent enrolls with a join token carrying the CA fingerprint, pins the CA and keeps using it', async () => {
    const port = await freePort();
    const ctl = await controller(port);
    const issued = await issueToken(ctl.remote);
    expect(issued.caFingerprint).to.equal(ctl.fingerprint);
    expect(issued.token).to.equal(`${issued.token.split('.')[0]}.${ctl.fingerprint.slice('sha256:'.length)}`);
    expect(issued.token).to.match(/^ogj_[A-Za-z0-9_-]{43}\.[0-9a-f]{64}$/);

    const stateDir = join(scope.root, 'agent');
    const args = ['agent', 'run', '--controller', ctl.remote, '--name', 'pinned-1', '--state-dir', stateDir];
    const agent = scope.track(
      await startDaemon([...args, '--join-token', issued.token, '--log-level', 'info'], /"msg":"connected"/, {
        env: env(),
        timeoutMs: 60_000,
      }),
    );
    expect(agent.output()).to.include('pinned the controller CA of the join token');
    expect(await readFile(join(stateDir, 'ca.pem'), 'utf8')).to.equal(await readFile(caFile(), 'utf8'));
    await agentOnline(ctl.remote, 'pinned-1');

    // Restarted without the token (a service unit may keep it: it is then ignored), it trusts the pinned CA only.
    await agent.stop('SIGTERM');
    scope.track(await startDaemon([...args, '--log-level', 'info'], /"msg":"connected"/, { env: env() }));
    await agentOnline(ctl.remote, 'pinned-1');
  });

  it('a join token whose fingerprint is not the CA the controller presents is refused (exit 4), nothing saved, no use spent', async () => {
    const ctl = await controller();
    const issued = await issueToken(ctl.remote);
    const secret = issued.token.split('.')[0] as string;
    const wrong = `${secret}.${'ab'.repeat(32)}`;
    const stateDir = join(scope.root, 'agent');
    const args = ['agent', 'run', '--controller', ctl.remote, '--name', 'pin-2', '--state-dir', stateDir];
    const refused = await ogent([...args, '--join-token', wrong]);
    expect(refused.code, refused.stderr).to.equal(4);
    expect(refused.stderr).to.include(
      `ogent: refusing to enroll: the controller at ${ctl.remote} presented the CA ${ctl.fingerprint}, but the join token pins sha256:${'ab'.repeat(32)}`,
    );
    expect(refused.stderr).to.include('someone may be intercepting the connection');
    expect(await exists(join(stateDir, 'credential.json'))).to.equal(false);
    expect(await exists(join(stateDir, 'ca.pem'))).to.equal(false);

    const cut = await ogent([...args, '--join-token', `${secret}.abc`]);
    expect(cut.code, cut.stderr).to.equal(2);
    expect(cut.stderr).to.include('invalid --join-token');

    // The same secret with the right fingerprint still enrolls: the refused attempts sent nothing.
    scope.track(
      await startDaemon([...args, '--join-token', issued.token], /agent starting/, { env: env(), timeoutMs: 60_000 }),
    );
    await agentOnline(ctl.remote, 'pin-2');
  });

  it('a client without the CA gets an error naming --ca and `ogent controller ca`; with --ca it logs in', async () => {
    const ctl = await controller();
    const login = ['login', '--controller', ctl.remote, '--username', 'admin', '--password-stdin'];
    const untrusted = await ogent(login, {}, ADMIN_PASSWORD);
    expect(untrusted.code, untrusted.stderr).to.equal(4);
    expect(untrusted.stderr).to.match(/^ogent: certificate not trusted: the controller at https:\/\/0\.0\.0\.0:\d+/);
    expect(untrusted.stderr).to.include('pass --ca FILE').and.include('`ogent controller ca`');

    const trusted = await ogent([...login, '--ca', caFile()], {}, ADMIN_PASSWORD);
    expect(trusted.code, trusted.stderr).to.equal(0);
    const later = await ogent(['agents', '--json']);
    expect(later.code, later.stderr).to.equal(0);
  });

  it('controller ca without a CA in the data dir: exit 1 saying when one is made', async () => {
    const res = await ogent(['controller', 'ca', '--data-dir', join(scope.root, 'none')]);
    expect(res.code).to.equal(1);
    expect(res.stderr).to.include(`no CA in ${join(scope.root, 'none', 'tls', 'ca.pem')}`);
    expect(res.stdout).to.equal('');
  });
});

import { expect } from 'chai';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Agent } from '../../src/domain/model.js';
import { login } from '../../src/client/http.js';
import { makePki, type TestPki } from '../helpers/certs.js';
import { runCli, startDaemon, type CliResult, type Daemon } from '../helpers/cli.js';
import { waitFor } from '../helpers/fixtures.js';

const ADMIN_PASSWORD = 'tls-admin-password';
const UNTRUSTED =
  /^ogent: certificate not trusted: the controller at https:\/\/127\.0\.0\.1:\d+ presented a certificate no trusted CA signed \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)\n {2}try: pass --ca FILE \(or set OGENT_CA\)/m;

/**
 * HTTPS/WSS with a CA and a certificate made by openssl here; agents enrolled with join tokens. Every part is the
 * real `bin/run.js`: `controller serve --tls-cert/--tls-key`, `agent run --ca --join-token`, `exec`, `agents`.
 */
describe('TLS and enrollment (real processes)', function () {
  this.timeout(120_000);
  let root: string;
  let pki: TestPki;
  let caPem: string;
  let url: string;
  const daemons: Daemon[] = [];

  const isolated = async () => {
    const dir = await mkdtemp(join(root, 'home-'));
    return {
      XDG_CONFIG_HOME: join(dir, 'config'),
      XDG_STATE_HOME: join(dir, 'state'),
      XDG_DATA_HOME: join(dir, 'data'),
    };
  };
  const clean = {
    OGENT_CONTROLLER: undefined,
    OGENT_USERNAME: undefined,
    OGENT_PASSWORD: undefined,
    OGENT_TOKEN: undefined,
    OGENT_CA: undefined,
    OGENT_JOIN_TOKEN: undefined,
  };
  /** `ogent ARGS` as admin against the https controller; no CA unless the test passes one. */
  const ogent = async (args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> =>
    runCli(args, {
      env: {
        ...clean,
        ...(await isolated()),
        OGENT_CONTROLLER: url,
        OGENT_USERNAME: 'admin',
        OGENT_PASSWORD: ADMIN_PASSWORD,
        ...env,
      },
      timeoutMs: 60_000,
    });
  const joinToken = async (uses = 1): Promise<string> => {
    const res = await ogent(['agents', 'enroll-token', '--uses', String(uses), '--json', '--ca', pki.ca]);
    expect(res.code, res.stderr).to.equal(0);
    const issued = JSON.parse(res.stdout) as { token: string; uses: number; expiresAt: string };
    expect(issued.uses).to.equal(uses);
    expect(issued.token).to.match(/^ogj_[A-Za-z0-9_-]{43}$/);
    return issued.token;
  };
  const agentArgs = (name: string, stateDir: string, extra: string[] = []) => [
    'agent',
    'run',
    '--controller',
    url,
    '--name',
    name,
    '--state-dir',
    stateDir,
    '--log-level',
    'info',
    ...extra,
  ];
  const startAgentProcess = async (args: string[], env: Record<string, string | undefined> = {}) => {
    const daemon = await startDaemon(args, /"msg":"connected"/, {
      env: { ...clean, ...(await isolated()), ...env },
      timeoutMs: 60_000,
    });
    daemons.push(daemon);
    return daemon;
  };
  const agentNames = async () => {
    const res = await ogent(['agents', '--json', '--ca', pki.ca]);
    expect(res.code, res.stderr).to.equal(0);
    return (JSON.parse(res.stdout) as { agents: Agent[] }).agents.map((a) => `${a.name}:${a.status}`);
  };

  before(async function () {
    this.timeout(120_000);
    root = await mkdtemp(join(tmpdir(), 'ogent-tls-'));
    pki = await makePki(root);
    caPem = await readFile(pki.ca, 'utf8');
    const controller = await startDaemon(
      [
        'controller',
        'serve',
        '--port',
        '0',
        '--data-dir',
        join(root, 'controller'),
        '--tls-cert',
        pki.cert,
        '--tls-key',
        pki.key,
        '--log-level',
        'warn',
      ],
      /ogent controller listening on (https:\/\/\S+)\n/,
      { env: { ...clean, ...(await isolated()), OGENT_ADMIN_PASSWORD: ADMIN_PASSWORD }, timeoutMs: 60_000 },
    );
    daemons.push(controller);
    url = controller.match[1] as string;
  });

  after(async () => {
    for (const daemon of daemons.reverse()) await daemon.stop('SIGKILL');
    await rm(root, { recursive: true, force: true });
  });

  it('serves HTTPS: a client with --ca is answered; without it, a clear "certificate not trusted", exit 4', async () => {
    expect(url).to.match(/^https:\/\/127\.0\.0\.1:\d+$/);
    const trusted = await ogent(['agents', '--json', '--ca', pki.ca]);
    expect(trusted.code, trusted.stderr).to.equal(0);
    expect(JSON.parse(trusted.stdout)).to.deep.equal({ agents: [] });

    const untrusted = await ogent(['agents', '--json']);
    expect(untrusted.code).to.equal(4);
    expect(untrusted.stderr).to.match(UNTRUSTED);
    expect(untrusted.stdout).to.equal('');
  });

  it('ogent login --ca keeps the CA: the later commands trust it without --ca', async () => {
    const home = { ...clean, ...(await isolated()) };
    const logged = await runCli(
      ['login', '--controller', url, '--username', 'admin', '--password-stdin', '--ca', pki.ca],
      { env: home, input: ADMIN_PASSWORD, timeoutMs: 60_000 },
    );
    expect(logged.code, logged.stderr).to.equal(0);
    const list = await runCli(['agents', '--json'], { env: home, timeoutMs: 60_000 });
    expect(list.code, list.stderr).to.equal(0);
    expect(JSON.parse(list.stdout)).to.have.property('agents');
  });

  it('an agent enrolls over HTTPS/WSS with --ca; its credential file is 0600; exec works with --ca and OGENT_CA', async () => {
    const stateDir = join(root, 'agent-tls-1');
    const agent = await startAgentProcess(
      agentArgs('tls-1', stateDir, ['--ca', pki.ca, '--join-token', await joinToken()]),
    );
    expect(agent.output()).to.include('"msg":"enrolled"');
    const credential = join(stateDir, 'credential.json');
    expect((await stat(credential)).mode & 0o777).to.equal(0o600);
    expect(JSON.parse(await readFile(credential, 'utf8'))).to.include({ name: 'tls-1' });
    expect(await agentNames()).to.deep.equal(['tls-1:online']);

    const withFlag = await ogent(['exec', '-t', 'tls-1', '--ca', pki.ca, '--', 'echo over-tls']);
    expect(withFlag.code, withFlag.stderr).to.equal(0);
    expect(withFlag.stdout).to.equal('tls-1: over-tls\n');
    const withEnv = await ogent(['exec', '-t', 'tls-1', '--', 'echo via-env'], { OGENT_CA: pki.ca });
    expect(withEnv.code, withEnv.stderr).to.equal(0);
    expect(withEnv.stdout).to.equal('tls-1: via-env\n');
  });

  it('exec without the CA fails at once with the clear message, exit 4, over HTTP login and over the socket', async () => {
    const viaLogin = await ogent(['exec', '-t', 'tls-1', '--', 'echo never']);
    expect(viaLogin.code).to.equal(4);
    expect(viaLogin.stderr).to.match(UNTRUSTED);
    expect(viaLogin.stdout).to.equal('');

    // With a token no HTTP request comes first: the refusal comes from the WSS handshake.
    const token = (await login(url, 'admin', ADMIN_PASSWORD, caPem)).access_token;
    const viaSocket = await ogent(['exec', '-t', 'tls-1', '--', 'echo never'], {
      OGENT_USERNAME: undefined,
      OGENT_PASSWORD: undefined,
      OGENT_TOKEN: token,
    });
    expect(viaSocket.code).to.equal(4);
    expect(viaSocket.stderr).to.match(UNTRUSTED);
  });

  it('an agent without the CA stops at start with the clear message, exit 4, and spends no join token use', async () => {
    const token = await joinToken();
    const res = await runCli(agentArgs('tls-2', join(root, 'agent-tls-2'), ['--join-token', token]), {
      env: { ...clean, ...(await isolated()) },
      timeoutMs: 60_000,
    });
    expect(res.code).to.equal(4);
    expect(res.stderr).to.match(UNTRUSTED);
    // The same token still works, given the CA in OGENT_CA.
    await startAgentProcess(agentArgs('tls-2', join(root, 'agent-tls-2'), ['--join-token', token]), {
      OGENT_CA: pki.ca,
    });
    expect(await agentNames()).to.have.members(['tls-1:online', 'tls-2:online']);
  });

  it('a used-up join token is refused (exit 3) and no agent is created', async () => {
    const token = await joinToken(1);
    await startAgentProcess(agentArgs('tls-3', join(root, 'agent-tls-3'), ['--ca', pki.ca, '--join-token', token]));
    const again = await runCli(agentArgs('tls-4', join(root, 'agent-tls-4'), ['--ca', pki.ca, '--join-token', token]), {
      env: { ...clean, ...(await isolated()) },
      timeoutMs: 60_000,
    });
    expect(again.code).to.equal(3);
    expect(again.stderr).to.include('ogent: join token refused: join token used up');
    const names = await agentNames();
    expect(names).to.include('tls-3:online');
    expect(names.some((n) => n.startsWith('tls-4'))).to.equal(false);
  });

  it('restarts without the join token on its saved credential; once removed, it is cut off and cannot come back', async () => {
    const stateDir = join(root, 'agent-tls-1');
    const first = daemons.find((d) => d.output().includes('"name":"tls-1"')) as Daemon;
    await first.stop('SIGTERM');
    const again = await startAgentProcess(agentArgs('tls-1', stateDir, ['--ca', pki.ca]));
    expect(again.output()).not.to.include('"msg":"enrolled"');
    expect(await agentNames()).to.include('tls-1:online');

    const removed = await ogent(['agents', 'remove', 'tls-1', '--ca', pki.ca]);
    expect(removed.code, removed.stderr).to.equal(0);
    // Disconnected, then every attempt to come back is refused: its user (and so its credential) is gone.
    await waitFor(
      () => /"error":"login refused: [^"]*","msg":"cannot get a token"/.test(again.output()),
      'the refused reconnection',
      60_000,
    );
    expect((await agentNames()).some((n) => n.startsWith('tls-1'))).to.equal(false);
    await again.stop('SIGTERM');

    const restart = await runCli(agentArgs('tls-1', stateDir, ['--ca', pki.ca]), {
      env: { ...clean, ...(await isolated()) },
      timeoutMs: 60_000,
    });
    expect(restart.code).to.equal(3);
    expect(restart.stderr).to.include(
      `ogent: the controller refused the credential of agent tls-1 in ${join(stateDir, 'credential.json')}`,
    );
  });

  describe('controller start-up with bad --tls-cert/--tls-key', () => {
    const serve = async (cert: string, key: string) => {
      const dataDir = join(root, `bad-${Math.random().toString(36).slice(2)}`);
      const res = await runCli(
        ['controller', 'serve', '--port', '0', '--data-dir', dataDir, '--tls-cert', cert, '--tls-key', key],
        { env: { ...clean, ...(await isolated()), OGENT_ADMIN_PASSWORD: ADMIN_PASSWORD }, timeoutMs: 60_000 },
      );
      // Refused before the store is opened: nothing is written.
      expect(await stat(dataDir).catch(() => null)).to.equal(null);
      return res;
    };

    it('a missing certificate file: exit 1, says which file and why', async () => {
      const missing = join(root, 'nope.pem');
      const res = await serve(missing, pki.key);
      expect(res.code).to.equal(1);
      expect(res.stderr).to.equal(`ogent: cannot read --tls-cert ${missing} (ENOENT): pass a readable PEM file\n`);
    });

    it('an unreadable key file: exit 1', async () => {
      const res = await serve(pki.cert, root);
      expect(res.code).to.equal(1);
      expect(res.stderr).to.equal(`ogent: cannot read --tls-key ${root} (EISDIR): pass a readable PEM file\n`);
    });

    it('a certificate file that holds no certificate, and a key that is not the certificate’s: exit 1', async () => {
      const notCert = await serve(pki.key, pki.key);
      expect(notCert.code).to.equal(1);
      expect(notCert.stderr).to.equal(
        `ogent: --tls-cert ${pki.key} holds no PEM certificate (-----BEGIN CERTIFICATE-----)\n`,
      );
      const otherKey = await serve(pki.cert, join(root, 'ca.key'));
      expect(otherKey.code).to.equal(1);
      expect(otherKey.stderr).to.equal(
        `ogent: --tls-key ${join(root, 'ca.key')} is not the key of the certificate in --tls-cert ${pki.cert}\n`,
      );
      const notKey = await serve(pki.cert, pki.cert);
      expect(notKey.code).to.equal(1);
      expect(notKey.stderr).to.match(/^ogent: --tls-key \S+ holds no PEM private key/);
    });

    it('--tls-cert without --tls-key is a usage error (exit 2)', async () => {
      const res = await runCli(['controller', 'serve', '--port', '0', '--tls-cert', pki.cert], {
        env: { ...clean, ...(await isolated()) },
      });
      expect(res.code).to.equal(2);
      expect(res.stderr).to.include('--tls-key');
    });
  });
});

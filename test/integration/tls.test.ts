import { expect } from 'chai';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { passwordTokens, startAgent } from '../../src/agent/index.js';
import { request } from '../../src/client/http.js';
import type { RunningController } from '../../src/controller/index.js';
import type { Job } from '../../src/domain/model.js';
import { UserError } from '../../src/lib/errors.js';
import { silentLogger } from '../../src/lib/log.js';
import { makePki, type TestPki } from '../helpers/certs.js';
import { Fixtures, waitFor } from '../helpers/fixtures.js';

const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('it succeeded');
    },
    (err: unknown) => err as UserError,
  );

describe('controller over TLS (in process)', function () {
  this.timeout(60_000);
  const fx = new Fixtures();
  let pki: TestPki;
  let ca: string;
  let controller: RunningController;

  let pkiDir: string;

  before(async () => {
    // Not a fixture: the certificates outlive each test's cleanup.
    pkiDir = await mkdtemp(join(tmpdir(), 'ogent-pki-'));
    pki = await makePki(pkiDir);
    ca = await readFile(pki.ca, 'utf8');
  });
  beforeEach(async () => {
    controller = await fx.controller({
      tls: { certFile: pki.cert, keyFile: pki.key },
      localAgent: { name: 'local-1' },
    });
  });
  afterEach(() => fx.cleanup());
  after(() => rm(pkiDir, { recursive: true, force: true }));

  it('serves https; the API answers a client that trusts the CA and refuses one that does not', async () => {
    expect(controller.url).to.match(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect((await request(controller.url, '/healthz', { ca })).status).to.equal(200);
    const err = await failure(request(controller.url, '/healthz'));
    expect(err).to.be.instanceOf(UserError);
    expect(err.code).to.equal('ERR_TLS');
    expect(err.exit).to.equal(4);
    expect(err.message).to.match(/^certificate not trusted: .*\(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)$/);
    // Plain HTTP to the TLS port is no answer either.
    const plain = await failure(request(controller.url.replace('https:', 'http:'), '/healthz'));
    expect(plain.exit).to.equal(4);
  });

  it('the local agent and an agent with the CA connect over WSS and run commands', async () => {
    await controller.auth.addUser({ name: 'admin', role: 'admin' }, 'wss-1', 'agent', 'pw-wss-1-123456');
    const agent = await startAgent({
      controller: controller.url,
      tls: { ca },
      name: 'wss-1',
      labels: {},
      stateDir: null,
      tokens: passwordTokens(controller.url, 'wss-1', 'pw-wss-1-123456', ca),
      log: silentLogger,
      minDelayMs: 50,
      maxDelayMs: 500,
    });
    fx.defer(() => agent.stop());
    await agent.ready;
    await controller.localAgent?.ready;
    const token = (await controller.auth.login('admin', 'admin-password-1')).token;
    const api = <T>(path: string, body?: unknown) =>
      request<T>(controller.url, path, { token, body, ca, method: body ? 'POST' : 'GET' });
    const created = await api<Job>('/api/v1/jobs', { command: 'echo secure', target: ['wss-1,local-1'] });
    expect(created.status, created.text).to.equal(201);
    const done = await waitFor(async () => {
      const job = (await api<Job>(`/api/v1/jobs/${created.body.id}`)).body;
      return job.status !== 'running' && job;
    }, 'the job to finish');
    expect(done.runs.map((r) => [r.agent.name, r.status, r.stdout]).sort()).to.deep.equal([
      ['local-1', 'succeeded', 'secure\n'],
      ['wss-1', 'succeeded', 'secure\n'],
    ]);
  });

  it('a certificate for another host name is refused even with the CA (ERR_TLS_CERT_ALTNAME_INVALID)', async () => {
    const other = await makePki(await fx.tempDir(), 'DNS:other.example');
    const wrongName = await fx.controller({ tls: { certFile: other.cert, keyFile: other.key } });
    const err = await failure(request(wrongName.url, '/healthz', { ca: await readFile(other.ca, 'utf8') }));
    expect(err.message).to.equal(
      "certificate not valid for 127.0.0.1: the controller's certificate names other hosts (ERR_TLS_CERT_ALTNAME_INVALID)",
    );
    expect(err.exit).to.equal(4);
  });
});

import { expect } from 'chai';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Server } from 'socket.io';
import type { Agent, Job } from '../../src/domain/model.js';
import { VERSION } from '../../src/lib/version.js';
import { runCli, startDaemon, type CliResult, type Daemon } from '../helpers/cli.js';
import { Fixtures } from '../helpers/fixtures.js';
import { firstReleaseBin } from '../helpers/first-release.js';
import {
  ADMIN_PASSWORD,
  adminToken,
  api,
  controllerProcess,
  endedJob,
  freePort,
  type ControllerProcess,
} from '../helpers/processes.js';

/** A command whose output and exit code tell a real run from a degraded one. */
const PLAIN = 'echo "out:$((6*7))"; echo err >&2; exit 3';

/**
 * README "Versions and upgrades": the first release (0.1.0, commit 2c84d71, built from this repository's history) and
 * this one, mixed both ways, as real processes. The first build takes about a minute; then it is cached.
 */
describe('compatibility with the first release (real processes, 0.1.0 built from git history)', function () {
  this.timeout(60_000);
  const fx = new Fixtures();
  let oldBin: string;
  let root: string;

  before(async function () {
    this.timeout(300_000);
    oldBin = await firstReleaseBin();
    root = await fx.tempDir('ogent-compat-');
  });
  after(() => fx.cleanup());

  const cli = (bin: 'old' | 'new', args: string[], env: Record<string, string | undefined> = {}, input = '') =>
    runCli(args, {
      bin: bin === 'old' ? oldBin : undefined,
      input,
      env: { OGENT_CONTROLLER: undefined, OGENT_USERNAME: undefined, OGENT_PASSWORD: undefined, ...env },
    });

  /**
   * `login` then `exec --json -- COMMAND` with one release's client: the job document and the exit code. `input` is
   * exec's standard input (a pipe): with a release that forwards stdin, a job that needs the agent to take stdin.
   */
  async function loginAndExec(
    bin: 'old' | 'new',
    url: string,
    target: string,
    { command = PLAIN, input = '' }: { command?: string; input?: string } = {},
  ): Promise<{ run: CliResult; job: Job }> {
    const config = { XDG_CONFIG_HOME: join(root, `config-${bin}-${Math.random().toString(36).slice(2)}`) };
    const login = await cli(
      bin,
      ['login', '--controller', url, '-u', 'admin', '--password-stdin'],
      config,
      ADMIN_PASSWORD,
    );
    expect(login.code, login.stderr).to.equal(0);
    const run = await cli(bin, ['exec', '-t', target, '--json', '--', command], config, input);
    return { run, job: JSON.parse(run.stdout) as Job };
  }

  /** An agent user on `url` and an agent process of one release for it. */
  async function agentProcess(bin: 'old' | 'new', url: string, name: string): Promise<Daemon> {
    const password = `pw-${name}-123456`;
    await api(url, await adminToken(url), '/api/v1/users', 'POST', { name, role: 'agent', password });
    const daemon = await startDaemon(
      ['agent', 'run', '--controller', url, '--name', name, '--state-dir', join(root, `state-${name}`)],
      /"msg":"connected"/,
      { bin: bin === 'old' ? oldBin : undefined, env: { OGENT_PASSWORD: password, OGENT_USERNAME: undefined } },
    );
    fx.defer(() => daemon.stop('SIGKILL').then(() => {}));
    return daemon;
  }

  const expectPlainRun = (job: Job, agent: string) => {
    const run = job.runs.find((r) => r.agent.name === agent);
    expect(run, JSON.stringify(job)).to.not.equal(undefined);
    expect(run?.status, JSON.stringify(run)).to.equal('failed');
    expect(run?.exitCode).to.equal(3);
    expect(run?.stdout).to.equal('out:42\n');
    expect(run?.stderr).to.equal('err\n');
  };

  describe(`today's controller (${VERSION})`, () => {
    let controller: ControllerProcess;

    before(async () => {
      controller = await controllerProcess(join(root, 'data-new'), await freePort());
      fx.defer(() => controller.stop('SIGKILL').then(() => {}));
      await agentProcess('old', controller.url, 'old-1');
      await agentProcess('new', controller.url, 'new-1');
    });

    it('(a) takes the first release agent, which announces 0.1.0 and no capabilities, and runs its job', async () => {
      const token = await adminToken(controller.url);
      const agent = await api<Agent>(controller.url, token, '/api/v1/agents/old-1');
      expect(agent.status).to.equal('online');
      expect(agent.info?.version).to.equal('0.1.0');
      expect(agent.info?.capabilities).to.equal(undefined);
      // Over the API, not `exec`: what `exec` sends along (its stdin) is the client's business, tested in (b).
      const created = await api<Job>(controller.url, token, '/api/v1/jobs', 'POST', {
        target: ['old-1'],
        command: PLAIN,
      });
      expectPlainRun(await endedJob(controller.url, token, created.id), 'old-1');
    });

    it("(b) the first release's login and exec run a job on old and new agents", async () => {
      const { run, job } = await loginAndExec('old', controller.url, 'old-1,new-1');
      expect(run.code, run.stderr).to.equal(1); // a run exited 3
      expectPlainRun(job, 'old-1');
      expectPlainRun(job, 'new-1');
    });

    it("(d) a job that needs stdin is rejected on the first release agent, naming 0.1.0; today's agent takes it", async () => {
      const { run, job } = await loginAndExec('new', controller.url, 'old-1,new-1', {
        command: 'cat',
        input: 'piped\n',
      });
      expect(run.code, run.stderr).to.equal(1);
      expect(job.requires).to.deep.equal(['stdin']);
      expect(job.runs.find((r) => r.agent.name === 'old-1')).to.include({
        status: 'rejected',
        error: 'agent old-1 runs ogent 0.1.0, which cannot take stdin: upgrade it',
      });
      expect(job.runs.find((r) => r.agent.name === 'new-1')).to.include({ status: 'succeeded', stdout: 'piped\n' });
    });
  });

  describe('the first release controller (0.1.0)', () => {
    let url: string;

    before(async () => {
      const port = await freePort();
      const controller = await startDaemon(
        ['controller', 'serve', '--port', String(port), '--data-dir', join(root, 'data-old'), '--log-level', 'warn'],
        /listening on (http:\/\/\S+)/,
        { bin: oldBin, env: { OGENT_ADMIN_PASSWORD: ADMIN_PASSWORD } },
      );
      fx.defer(() => controller.stop('SIGKILL').then(() => {}));
      url = controller.match[1] as string;
      await agentProcess('new', url, 'new-2');
    });

    it("(c) runs a job on today's agent (it drops the fields it does not know)", async () => {
      const { run, job } = await loginAndExec('old', url, 'new-2');
      expect(run.code, run.stderr).to.equal(1);
      expectPlainRun(job, 'new-2');
      const token = await adminToken(url);
      const agent = await api<Agent>(url, token, '/api/v1/agents/new-2');
      expect(agent.info?.version).to.equal(VERSION);
    });

    it("today's login and exec work against it", async () => {
      const { run, job } = await loginAndExec('new', url, 'new-2');
      expect(run.code, run.stderr).to.equal(1);
      expectPlainRun(job, 'new-2');
    });
  });

  describe('a controller that refuses this version (a stand-in: no release refuses 0.2 yet)', () => {
    /** Answers like a controller two minor releases ahead: 426 on login, or a refused handshake. */
    async function refusingController(where: 'login' | 'handshake') {
      const message = `this program runs ogent ${VERSION}, which the controller (ogent 0.4.0) no longer accepts: upgrade it to ogent 0.3 or later`;
      const server = createServer((req, res) => {
        const refuse = where === 'login' && req.url !== '/healthz';
        res.writeHead(refuse ? 426 : 200, { 'content-type': 'application/json' });
        const token = { access_token: 't', token_type: 'bearer', expires_in: 3600, status: 'ok', version: '0.4.0' };
        res.end(JSON.stringify(refuse ? { error: 'version_unsupported', message } : token));
      });
      const io = new Server(server, { transports: ['websocket'] });
      for (const nsp of ['/agents', '/clients']) {
        io.of(nsp).use((_socket, next) =>
          next(Object.assign(new Error(message), { data: { code: 'version_unsupported', message } })),
        );
      }
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      fx.defer(() => new Promise<void>((resolve) => void io.close(() => resolve())));
      return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, message };
    }

    for (const where of ['login', 'handshake'] as const) {
      it(`an agent refused at ${where} logs why and exits 1 (no retry can help)`, async () => {
        const stand = await refusingController(where);
        const res = await cli(
          'new',
          ['agent', 'run', '--controller', stand.url, '--name', 'r-1', '--state-dir', join(root, `r-${where}`)],
          {
            OGENT_PASSWORD: 'pw-r-1-123456',
          },
        );
        expect(res.code, res.stderr).to.equal(1);
        expect(res.stderr).to.include(stand.message);
        expect(res.stderr).to.match(/upgrade the agent \(controllers first/);
      });

      it(`exec refused at ${where} exits 4 with both versions and the upgrade order`, async () => {
        const stand = await refusingController(where);
        const res = await cli('new', ['exec', '-t', 'x', '--controller', stand.url, '--', 'true'], {
          OGENT_TOKEN: 'a-token',
        });
        expect(res.code, res.stderr).to.equal(4);
        expect(res.stderr).to.include(`the controller refused this version of ogent: ${stand.message}`);
        expect(res.stderr).to.match(/upgrade controllers first, then agents and clients/);
      });
    }
  });
});

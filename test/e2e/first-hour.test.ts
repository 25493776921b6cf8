import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { chmod, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { promisify } from 'node:util';
import type { Job } from '../../src/domain/model.js';
import { BIN, runCli, type CliResult } from '../helpers/cli.js';
import { Fixtures } from '../helpers/fixtures.js';
import { ADMIN_PASSWORD, controllerProcess, freePort, type ControllerProcess } from '../helpers/processes.js';

const noCredentials = {
  OGENT_CONTROLLER: undefined,
  OGENT_USERNAME: undefined,
  OGENT_PASSWORD: undefined,
  OGENT_TOKEN: undefined,
  OGENT_CA: undefined,
};

/** What a new user meets in the first hour (issue #29), with the real `bin/run.js`. */
describe('the first hour: help, conventions and errors (real processes)', function () {
  this.timeout(60_000);
  const fx = new Fixtures();
  let home: string;
  after(() => fx.cleanup());
  before(async () => {
    home = await fx.tempDir('ogent-first-hour-');
  });
  const ogent = (args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> =>
    runCli(args, { env: { ...noCredentials, XDG_CONFIG_HOME: home, ...env }, timeoutMs: 30_000 });

  describe('help and conventions', () => {
    it('-h is help everywhere, as --help is', async () => {
      for (const args of [['exec'], ['jobs', 'wait'], ['agents', 'enroll-token', 'list']]) {
        const res = await ogent([...args, '-h']);
        expect(res.code, args.join(' ')).to.equal(0);
        expect(res.stdout, args.join(' ')).to.include('USAGE').and.include('EXAMPLES');
        expect(res.stdout).to.equal((await ogent([...args, '--help'])).stdout);
      }
    });

    it('`ogent version` and `ogent -v` print the version as `--version` does', async () => {
      const version = await ogent(['--version']);
      expect(version.stdout).to.match(/^ogent\/\d+\.\d+\.\d+ /);
      for (const args of [['version'], ['-v']]) {
        const res = await ogent(args);
        expect(res.code, args.join(' ')).to.equal(0);
        expect(res.stdout, args.join(' ')).to.equal(version.stdout);
      }
    });

    it('an unknown command is said with spaces, with the closest command, exit 2', async () => {
      const res = await ogent(['jobs', 'lst']);
      expect(res.code).to.equal(2);
      expect(res.stderr).to.include('"jobs lst"').and.include('ogent jobs list');
      expect(res.stderr).not.to.include('jobs:lst');
      const typo = await ogent(['exce', '--all', '--', 'true']);
      expect(typo.code).to.equal(2);
      expect(typo.stderr).to.include('ogent exec');
    });

    it('`help agents` lists each command once, nested ones included; a topic page has examples', async () => {
      const agents = await ogent(['help', 'agents']);
      expect(agents.code).to.equal(0);
      expect(agents.stdout.match(/^ {2}agents enroll-token +Issue/gm), agents.stdout).to.have.length(1);
      expect(agents.stdout).not.to.include('TOPICS');
      expect(agents.stdout)
        .to.match(/^ {2}agents enroll-token list /m)
        .and.match(/^ {2}agents enroll-token revoke /m);
      for (const topic of ['jobs', 'users', 'agent']) {
        const page = await ogent(['help', topic]);
        expect(page.code, topic).to.equal(0);
        expect(page.stdout, topic).to.include('EXAMPLES');
        expect(page.stdout, topic).to.include(`$ ogent ${topic} `);
      }
    });

    it("the README's completion set-up works: `autocomplete bash`, then the one line `autocomplete script bash` prints", async () => {
      const env = { XDG_CACHE_HOME: await fx.tempDir() };
      const setup = await ogent(['autocomplete', 'bash'], env);
      expect(setup.code, setup.stderr).to.equal(0);
      const line = await ogent(['autocomplete', 'script', 'bash'], env);
      expect(line.code, line.stderr).to.equal(0);
      expect(line.stdout.trim().split('\n')).to.have.length(1);
      const bin = await fx.tempDir();
      await writeFile(`${bin}/ogent`, `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
      await chmod(`${bin}/ogent`, 0o755);
      // What the README's line appends to ~/.bashrc, in a fresh shell: completion for `ogent` is defined.
      const { stdout } = await promisify(execFile)(
        'bash',
        ['-c', `eval "$(printf "$(ogent autocomplete script bash)")"; complete -p ogent`],
        {
          env: { ...process.env, ...noCredentials, PATH: `${bin}:${process.env.PATH}`, XDG_CONFIG_HOME: home, ...env },
        },
      );
      expect(stdout).to.match(/complete .* ogent$/m);
    });
  });

  describe('errors say what is wrong, with the right exit code', () => {
    let controller: ControllerProcess;
    const admin = () => ({ OGENT_CONTROLLER: controller.url, OGENT_USERNAME: 'admin', OGENT_PASSWORD: ADMIN_PASSWORD });
    before(async () => {
      controller = await controllerProcess(await fx.tempDir(), 0, ['--local-agent']);
      fx.defer(async () => void (await controller.stop()));
    });

    it('a server that is not ogent: "answers but is not an ogent controller", exit 4', async () => {
      const server = createHttpServer((req, res) => {
        res.writeHead(req.url === '/token' ? 501 : 404, { 'content-type': 'text/html' });
        res.end('<h1>nope</h1>');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      fx.defer(() => new Promise<void>((resolve) => server.close(() => resolve())));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      for (const args of [
        ['exec', '--all', '--', 'true'],
        ['jobs', 'list'],
      ]) {
        const res = await ogent(args, { ...admin(), OGENT_CONTROLLER: url });
        expect(res.code, `${args.join(' ')}: ${res.stderr}`).to.equal(4);
        expect(res.stderr).to.include(`${url} answers`).and.include('but is not an ogent controller');
      }
      const login = await runCli(['login', '--controller', url, '--username', 'admin', '--password-stdin'], {
        env: { ...noCredentials, XDG_CONFIG_HOME: home },
        input: ADMIN_PASSWORD,
      });
      expect(login.code, login.stderr).to.equal(4);
      expect(login.stderr).to.include('is not an ogent controller');
    });

    it('logged in to one controller, --controller another that is down: unreachable, exit 4', async () => {
      const config = await fx.tempDir();
      const login = await runCli(['login', '--controller', controller.url, '--username', 'admin', '--password-stdin'], {
        env: { ...noCredentials, XDG_CONFIG_HOME: config },
        input: ADMIN_PASSWORD,
      });
      expect(login.code, login.stderr).to.equal(0);
      const down = `http://127.0.0.1:${await freePort()}`;
      const res = await runCli(['exec', '--all', '--controller', down, '--', 'true'], {
        env: { ...noCredentials, XDG_CONFIG_HOME: config },
      });
      expect(res.code, res.stderr).to.equal(4);
      expect(res.stderr).to.include(`cannot reach the controller at ${down}`).and.include('connection refused');
      expect(res.stderr).not.to.include('not logged in');
    });

    it('https:// to a plain HTTP controller: "does not speak TLS", exit 4', async () => {
      const https = controller.url.replace('http://', 'https://');
      const res = await ogent(['jobs', 'list'], { ...admin(), OGENT_CONTROLLER: https });
      expect(res.code, res.stderr).to.equal(4);
      expect(res.stderr).to.include('does not speak TLS').and.include('http://');
      expect(res.stderr).not.to.include('EPROTO)');
    });

    it('a frozen controller: exit 4 after --request-timeout, which the message names', async () => {
      const held: Socket[] = [];
      const frozen = createTcpServer((socket) => held.push(socket));
      await new Promise<void>((resolve) => frozen.listen(0, '127.0.0.1', resolve));
      fx.defer(() => {
        held.forEach((s) => s.destroy());
        return new Promise<void>((resolve) => frozen.close(() => resolve()));
      });
      const url = `http://127.0.0.1:${(frozen.address() as AddressInfo).port}`;
      const res = await ogent(['exec', '--all', '--request-timeout', '1s', '--', 'true'], {
        ...admin(),
        OGENT_CONTROLLER: url,
      });
      expect(res.code, res.stderr).to.equal(4);
      expect(res.stderr).to.include('no answer').and.include('--request-timeout');
      // With a token there is no login: exec goes straight to its live connection, bounded the same way.
      const socket = await ogent(['exec', '--all', '--no-tui', '--request-timeout', '1s', '--', 'true'], {
        OGENT_CONTROLLER: url,
        OGENT_TOKEN: 'never-checked',
      });
      expect(socket.code, socket.stderr).to.equal(4);
      expect(socket.stderr).to.include('no answer').and.include('--request-timeout');
      const env = await ogent(['jobs', 'list'], { ...admin(), OGENT_CONTROLLER: url, OGENT_REQUEST_TIMEOUT: '500ms' });
      expect(env.code, env.stderr).to.equal(4);
      expect(env.stderr).to.include('500ms');
    });

    it('--timeout 0 names --timeout; --max-concurrency 0 is refused: exit 2, no job', async () => {
      const jobs = async () => JSON.parse((await ogent(['jobs', 'list', '--json'], admin())).stdout) as { jobs: Job[] };
      const before = (await jobs()).jobs.length;
      const timeout = await ogent(['exec', '--all', '--timeout', '0', '--', 'true'], admin());
      expect(timeout.code, timeout.stderr).to.equal(2);
      expect(timeout.stderr).to.include('--timeout').and.not.include('timeoutMs');
      for (const value of ['0', '0%']) {
        const res = await ogent(['exec', '--all', '--max-concurrency', value, '--', 'true'], admin());
        expect(res.code, res.stderr).to.equal(2);
        expect(res.stderr).to.include('--max-concurrency');
      }
      expect((await jobs()).jobs.length).to.equal(before);
    });

    it('--cwd /nonexistent: "working directory … does not exist", in exec and in `jobs show`', async () => {
      const res = await ogent(['exec', '--all', '--no-tui', '--cwd', '/nonexistent', '--', 'true'], admin());
      expect(res.code, res.stderr).to.equal(1);
      expect(res.stderr).to.include('working directory /nonexistent does not exist');
      expect(res.stderr).not.to.include('spawn /bin/sh ENOENT');
      const id = /job (j[0-9a-z]+) failed/.exec(res.stderr)?.[1];
      expect(id, res.stderr).to.be.a('string');
      const show = await ogent(['jobs', 'show', id as string], admin());
      expect(show.code, show.stderr).to.equal(0);
      expect(show.stdout).to.include('working directory /nonexistent does not exist');
    });

    it('`login` says how long the token is valid in hours, not "60 min"', async () => {
      const res = await runCli(['login', '--controller', controller.url, '--username', 'admin', '--password-stdin'], {
        env: { ...noCredentials, XDG_CONFIG_HOME: await fx.tempDir() },
        input: ADMIN_PASSWORD,
      });
      expect(res.code, res.stderr).to.equal(0);
      expect(res.stderr).to.include('token valid for 1 hour,');
    });
  });
});

import { expect } from 'chai';
import { copyFile, mkdir, mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Agent, Job } from '../../src/domain/model.js';
import { waitFor } from '../helpers/fixtures.js';
import { NODE_VERSION } from '../../scripts/package/node-base.js';
import { sha256File } from '../../scripts/package/build.js';
import {
  builtBinary,
  noNode,
  ROOT,
  run,
  runIn,
  shellQuote,
  startIn,
  type NoNode,
  type Result,
  type Service,
} from './package-support.js';

const ADMIN_PASSWORD = 'pkg-admin-password-1';
const AGENT_PASSWORD = 'pkg-agent-password-1';
const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };

/**
 * docs/architecture.md §8: dist/ogent-linux-x64, copied alone into an empty directory and run where no Node.js can be found, runs
 * every command: a controller, an agent, exec (plain, --json, exit codes), the Ink view in a terminal, and the
 * systemd units it writes.
 */
describe('the single executable (dist/ogent-linux-x64, no Node.js on the host)', function () {
  this.timeout(120_000);
  let root: string;
  let home: string;
  let ogent: string;
  let place: NoNode;
  const services: Service[] = [];
  let url: string;

  const base = () => ({ HOME: home, XDG_CONFIG_HOME: join(home, 'config') });
  const admin = () => ({ ...base(), OGENT_CONTROLLER: url, OGENT_USERNAME: 'admin', OGENT_PASSWORD: ADMIN_PASSWORD });
  const cli = (args: string[], env: Record<string, string> = admin(), input?: string): Promise<Result> =>
    runIn(place, [ogent, ...args], env, { input, cwd: root });
  const lines = (text: string) => text.split('\n').filter((l) => l !== '');

  before(async function () {
    this.timeout(300_000);
    const built = await builtBinary();
    root = await mkdtemp(join(tmpdir(), 'ogent-pkg-'));
    home = join(root, 'home');
    await mkdir(home);
    // Alone in a directory: no package.json, no node_modules beside it.
    ogent = join(root, 'bin', 'ogent');
    await mkdir(join(root, 'bin'));
    await copyFile(built, ogent);
    await run('chmod', ['755', ogent]);
    place = await noNode(root);
  });

  after(async () => {
    for (const s of services.reverse()) await s.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('is built without postject in this process (its handlers would turn any stray rejection into a crash)', () => {
    // The CommonJS module cache is one for the process, whichever require reads it.
    const loaded = Object.keys(createRequire(import.meta.url).cache).filter((p) =>
      p.includes('/node_modules/postject/'),
    );
    expect(loaded).to.deep.equal([]);
  });

  it('is checked: the .sha256 beside it matches, and the build is one ELF file for x86-64', async () => {
    const built = await builtBinary();
    const sum = await readFile(`${built}.sha256`, 'utf8');
    expect(sum).to.equal(`${await sha256File(built)}  ogent-linux-x64\n`);
    const header = Buffer.alloc(20);
    const fd = await open(built, 'r');
    await fd.read(header, 0, 20, 0);
    await fd.close();
    expect(header.subarray(0, 4).toString('latin1')).to.equal('\x7fELF');
    expect(header.readUInt16LE(18), 'e_machine x86-64').to.equal(62);
  });

  it('runs where `node` cannot be found', async function () {
    this.test!.title += ` (${place.how})`;
    const found = await runIn(place, ['/bin/sh', '-c', 'command -v node || command -v nodejs'], base());
    expect(found.code, `node found: ${found.stdout}`).to.not.equal(0);
    expect(found.stdout).to.equal('');
    if (!place.hidden) return;
    const direct = await runIn(place, ['/bin/sh', '-c', `${shellQuote(process.execPath)} --version`], base());
    expect(direct.code, 'the test runner’s own node cannot run in there').to.not.equal(0);
    expect(direct.stdout).to.not.include(process.version);
  });

  it('--version: the package version and the Node.js inside (not the host’s)', async () => {
    const res = await cli(['--version'], base());
    expect(res.code, res.stderr).to.equal(0);
    expect(res.stdout).to.equal(`ogent/${version} linux-x64 node-v${NODE_VERSION}\n`);
    expect(res.stderr).to.equal('');
    expect(`v${NODE_VERSION}`).to.not.equal(process.version);
  });

  it('--help lists the topics and commands; a command’s --help shows its examples', async () => {
    const res = await cli(['--help'], base());
    expect(res.code, res.stderr).to.equal(0);
    expect(res.stdout).to.include(`ogent/${version} linux-x64 node-v${NODE_VERSION}`);
    expect(res.stdout).to.include('$ ogent [COMMAND]');
    for (const topic of ['agent', 'agents', 'controller', 'jobs', 'users'])
      expect(res.stdout).to.match(new RegExp(`^ {2}${topic} +\\S`, 'm'));
    expect(res.stdout).to.match(/^ {2}exec +Run a command on a set of agents/m);
    const sub = await cli(['agent', 'service', 'install', '--help'], base());
    expect(sub.code, sub.stderr).to.equal(0);
    expect(sub.stdout).to.include('$ ogent agent service install');
    expect(sub.stdout).to.include('EXAMPLES');
    expect(sub.stdout).to.include('AGENT RUN FLAGS');
    const bad = await cli(['exec', '--timeout', 'soon', '--', 'true'], base());
    expect(bad.code, 'usage error').to.equal(2);
    expect(bad.stderr).to.match(/^ogent: /);
  });

  describe('a whole fleet from the binary: controller, agent, exec', () => {
    before(async () => {
      const controller = await startIn(
        place,
        [
          ogent,
          'controller',
          'serve',
          '--port',
          '0',
          '--local-agent',
          '--local-agent-name',
          'local-1',
          '--data-dir',
          join(root, 'data'),
          '--log-level',
          'warn',
        ],
        { ...base(), OGENT_ADMIN_PASSWORD: ADMIN_PASSWORD },
        /^ogent controller listening on (http:\/\/\S+)$/m,
        { cwd: root },
      );
      services.push(controller);
      url = controller.match[1]!;
      const added = await cli(
        ['users', 'add', 'web-1', '--role', 'agent', '--password-stdin'],
        admin(),
        AGENT_PASSWORD,
      );
      expect(added.code, added.stderr).to.equal(0);
      expect(added.stdout).to.equal('added web-1 (agent)\n');
      const agent = await startIn(
        place,
        [ogent, 'agent', 'run', '--controller', url, '--name', 'web-1', '--label', 'role=web'],
        { ...base(), OGENT_PASSWORD: AGENT_PASSWORD, OGENT_STATE_DIR: join(root, 'agent-state') },
        /"msg":"connected"/,
        { cwd: root },
      );
      services.push(agent);
      await waitFor(
        async () => {
          const res = await cli(['agents', '--json']);
          if (res.code !== 0) return false;
          const agents = (JSON.parse(res.stdout) as { agents: Agent[] }).agents;
          return agents.filter((a) => a.status === 'online').length === 2;
        },
        'local-1 and web-1 online',
        30_000,
      );
    });

    it('agents: both online; the agent reports the package version', async () => {
      const res = await cli(['agents', 'show', 'web-1', '--json']);
      expect(res.code, res.stderr).to.equal(0);
      const agent = JSON.parse(res.stdout) as Agent;
      expect(agent.status).to.equal('online');
      expect(agent.labels).to.deep.equal({ role: 'web' });
      expect(agent.info?.version).to.equal(version);
      expect(agent.info?.arch).to.equal('x64');
    });

    it('exec --json: one job document on stdout, nothing else; exit 0', async () => {
      const res = await cli(['exec', '--all', '--json', '--', 'echo one; echo two >&2']);
      expect(res.code, res.stderr).to.equal(0);
      expect(res.stderr).to.equal('');
      const job = JSON.parse(res.stdout) as Job;
      expect(job).to.include({ command: 'echo one; echo two >&2', executor: 'shell', status: 'succeeded' });
      expect(job).to.include({ createdBy: 'admin' });
      expect(job.runs.map((r) => r.agent.name).sort()).to.deep.equal(['local-1', 'web-1']);
      for (const r of job.runs)
        expect(r).to.include({ status: 'succeeded', exitCode: 0, stdout: 'one\n', stderr: 'two\n' });
      expect(job.summary).to.include({ total: 2, succeeded: 2, failed: 0 });
    });

    it('exec plain: prefixed lines on stdout, the summary on stderr', async () => {
      const res = await cli(['exec', '-t', 'role=web', '--', 'echo hello']);
      expect(res.code, res.stderr).to.equal(0);
      expect(res.stdout).to.equal('web-1: hello\n');
      expect(lines(res.stderr).at(-1)).to.match(/^job j\S+ succeeded: 1 succeeded \(1 agent, [\d.]+m?s\)$/);
    });

    it('exit codes: 1 a run failed, 5 no agent matched, 3 wrong password, 4 no controller', async () => {
      const failed = await cli(['exec', '--all', '--json', '--', 'exit 3']);
      expect(failed.code).to.equal(1);
      const job = JSON.parse(failed.stdout) as Job;
      expect(job.status).to.equal('failed');
      expect(job.runs.map((r) => r.exitCode)).to.deep.equal([3, 3]);
      const none = await cli(['exec', '-t', 'nothing-*', '--', 'true']);
      expect(none.code, none.stderr).to.equal(5);
      const refused = await cli(['exec', '--all', '--', 'true'], { ...admin(), OGENT_PASSWORD: 'wrong-password' });
      expect(refused.code, refused.stderr).to.equal(3);
      const away = await cli(['exec', '--all', '--', 'true'], { ...admin(), OGENT_CONTROLLER: 'http://127.0.0.1:1' });
      expect(away.code, away.stderr).to.equal(4);
    });

    it('the Ink live view renders in a terminal (tmux), takes keys, and exits with the job’s code', async () => {
      await run('tmux', ['-V']).catch(() => {
        throw new Error('tmux is missing: install it (scripts/setup, or apt-get install tmux)');
      });
      const socket = `ogent-pkg-${process.pid}`;
      const tmux = (...args: string[]) => run('tmux', ['-L', socket, '-f', '/dev/null', ...args], { encoding: 'utf8' });
      const gate = join(root, 'gate');
      const command = `echo "hello from $(hostname)"; while [ ! -e ${gate} ]; do sleep 0.1; done; echo done`;
      const line = place.line([ogent, 'exec', '--all', '--', command], { ...admin(), TERM: 'screen-256color' });
      try {
        await tmux(
          'new-session',
          '-d',
          '-s',
          'view',
          '-x',
          '100',
          '-y',
          '30',
          'sh',
          '-c',
          `${line}; echo EXIT=$?; exec sleep 600`,
        );
        let screen = '';
        const until = (check: (s: string) => boolean, what: string) =>
          waitFor(
            async () => {
              screen = (await tmux('capture-pane', '-p', '-t', 'view')).stdout;
              return check(screen);
            },
            what,
            30_000,
          ).catch((err: Error) => {
            throw new Error(`${err.message}; the screen was:\n${screen}`);
          });
        const live = (s: string) =>
          /^job j\w+ · --all · running · /m.test(s) &&
          ['local-1', 'web-1'].every((name) => new RegExp(`${name} +running .*hello from`).test(s));
        await until(live, 'the view, both agents running');
        expect(screen).to.include('$ echo "hello from $(hostname)"');
        expect(screen).to.include('0/2 done');
        await tmux('send-keys', '-t', 'view', 'j');
        await until((s) => /^── web-1 · running/m.test(s), 'web-1 selected with j');
        await writeFile(gate, '');
        await until((s) => /^EXIT=\d+$/m.test(s), 'exec to exit');
        expect(screen).to.match(/^EXIT=0$/m);
        expect(screen).to.match(/^job j\w+ succeeded: 2 succeeded \(2 agents, [\d.]+m?s\)$/m);
        expect(screen).to.match(/^✔ web-1 +exit 0 +\S+ +done$/m);
      } finally {
        await tmux('kill-server').catch(() => {});
      }
    });
  });

  describe('systemd units written by the binary', () => {
    const verify = async (unit: string, name: string) => {
      await run('systemd-analyze', ['--version']).catch(() => {
        throw new Error('systemd-analyze is missing: install systemd (apt-get install systemd; .ci/run does)');
      });
      const dir = await mkdtemp(join(root, 'unit-'));
      await writeFile(join(dir, name), unit);
      const res = await run('systemd-analyze', ['verify', join(dir, name)]).then(
        (r) => ({ code: 0, stderr: r.stderr }),
        (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
      );
      return res;
    };
    const field = (unit: string, key: string) =>
      unit
        .split('\n')
        .filter((l) => l.startsWith(`${key}=`))
        .map((l) => l.slice(key.length + 1));

    it('agent service install --print: a unit systemd-analyze verify accepts, starting this executable', async () => {
      const res = await cli(
        ['agent', 'service', 'install', '--print', '--controller', 'https://ctl.example:8600', '--name', 'web-1'],
        base(),
      );
      expect(res.code, res.stderr).to.equal(0);
      const unit = res.stdout;
      expect(field(unit, 'ExecStart')).to.deep.equal([
        `${ogent} agent run --controller https://ctl.example:8600 --name web-1 --state-dir /var/lib/ogent-agent`,
      ]);
      expect(field(unit, 'EnvironmentFile')).to.deep.equal(['/etc/ogent/agent.env']);
      expect(field(unit, 'Restart')).to.deep.equal(['on-failure']);
      expect(field(unit, 'StateDirectory')).to.deep.equal(['ogent-agent']);
      const verified = await verify(unit, 'ogent-agent.service');
      expect(verified, verified.stderr).to.deep.equal({ code: 0, stderr: '' });
    });

    it('controller service install --print: verified too; and a broken unit is not', async () => {
      const res = await cli(
        ['controller', 'service', 'install', '--print', '--host', '0.0.0.0', '--insecure-http'],
        base(),
      );
      expect(res.code, res.stderr).to.equal(0);
      expect(field(res.stdout, 'ExecStart')).to.deep.equal([
        `${ogent} controller serve --host 0.0.0.0 --insecure-http --data-dir /var/lib/ogent-controller`,
      ]);
      expect(field(res.stdout, 'DynamicUser')).to.deep.equal(['yes']);
      const verified = await verify(res.stdout, 'ogent-controller.service');
      expect(verified, verified.stderr).to.deep.equal({ code: 0, stderr: '' });
      // The check can fail: the same unit with a typo and a missing executable.
      const broken = res.stdout.replace('Restart=on-failure', 'Restart=sometimes').replace(ogent, `${ogent}-gone`);
      const refused = await verify(broken, 'ogent-controller.service');
      expect(refused.code).to.not.equal(0);
      expect(refused.stderr).to.include('sometimes');
    });

    it('agent service install writes the unit and a 0600 environment file with the password', async () => {
      const etc = join(root, 'etc');
      const res = await cli(
        [
          'agent',
          'service',
          'install',
          '--controller',
          url,
          '--name',
          'web-2',
          '--unit-dir',
          join(etc, 'systemd/system'),
          '--environment-file',
          join(etc, 'ogent/agent.env'),
          '--password-stdin',
        ],
        base(),
        "pw with $pecial 'chars'\n",
      );
      expect(res.code, res.stderr).to.equal(0);
      expect(res.stdout).to.include(`wrote ${join(etc, 'ogent/agent.env')} (OGENT_PASSWORD, mode 0600)`);
      expect(res.stdout).to.include('systemctl daemon-reload && systemctl enable --now ogent-agent');
      const unit = await readFile(join(etc, 'systemd/system/ogent-agent.service'), 'utf8');
      expect(field(unit, 'ExecStart')[0]).to.equal(
        `${ogent} agent run --controller ${url} --name web-2 --state-dir /var/lib/ogent-agent`,
      );
      expect(field(unit, 'EnvironmentFile')).to.deep.equal([join(etc, 'ogent/agent.env')]);
      const env = join(etc, 'ogent/agent.env');
      expect(((await stat(env)).mode & 0o777).toString(8)).to.equal('600');
      // What systemd would read: the shell reads this quoting the same way for these characters.
      const read = await runIn(place, ['/bin/sh', '-c', `. ${shellQuote(env)}; printf %s "$OGENT_PASSWORD"`], base());
      expect(read.stdout).to.equal("pw with $pecial 'chars'");
    });
  });
});

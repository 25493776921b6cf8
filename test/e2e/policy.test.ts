import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import type { RunningController } from '../../src/controller/index.js';
import type { Agent, Job } from '../../src/domain/model.js';
import { BIN, runCli, startDaemon, type Daemon } from '../helpers/cli.js';
import { ADMIN } from '../helpers/executor-helpers.js';
import { ADMIN_PASSWORD, Fixtures, waitFor } from '../helpers/fixtures.js';

describe('agent policy (--allow / --deny / --policy) and --run-as (real bin/run.js agents)', function () {
  this.timeout(120_000);
  const fx = new Fixtures();
  let controller: RunningController;
  let dir: string;

  before(async () => {
    controller = await fx.controller();
    dir = await fx.tempDir('ogent-policy-');
  });
  after(() => fx.cleanup());

  /** A real `bin/run.js agent run NAME ...flags`, online at the controller before this resolves. */
  async function agent(name: string, flags: string[]): Promise<Daemon> {
    const password = `pw-${name}-123456`;
    await controller.auth.addUser(ADMIN, name, 'agent', password);
    const daemon = await startDaemon(
      ['agent', 'run', '--controller', controller.url, '--name', name, '--state-dir', join(dir, name), ...flags],
      /connected/,
      { env: { OGENT_PASSWORD: password, OGENT_LOG_LEVEL: 'info' } },
    );
    fx.defer(() => daemon.stop().then(() => {}));
    await waitFor(
      async () => (await controller.agents.list()).some((a) => a.name === name && a.status === 'online'),
      `agent ${name} online`,
    );
    return daemon;
  }

  const cli = (args: string[]) =>
    runCli(args, {
      env: { OGENT_CONTROLLER: controller.url, OGENT_USERNAME: 'admin', OGENT_PASSWORD: ADMIN_PASSWORD },
    });

  describe('--deny', () => {
    before(() => agent('guarded', ['--deny', '^rm ', '--deny', 'shutdown']));

    it("refuses `rm -rf` with --deny '^rm ': a rejected run with the reason, exit 1, and the file is still there", async () => {
      const victim = join(dir, 'victim');
      await writeFile(victim, 'keep me\n');
      const res = await cli(['exec', '-t', 'guarded', '--json', '--', 'rm', '-rf', victim]);
      expect(res.code, res.stderr).to.equal(1);
      const job = JSON.parse(res.stdout) as Job;
      expect(job.status).to.equal('failed');
      expect(job.summary.rejected).to.equal(1);
      expect(job.runs[0]?.status).to.equal('rejected');
      expect(job.runs[0]?.error).to.equal(`refused by the agent's policy: matches --deny "^rm "`);
      expect(job.runs[0]?.exitCode).to.equal(null);
      expect(existsSync(victim)).to.equal(true);

      // The reason is in `jobs show` (text and JSON) too.
      const shown = await cli(['jobs', 'show', job.id]);
      expect(shown.stdout + shown.stderr).to.include(`refused by the agent's policy: matches --deny "^rm "`);
      const shownJson = JSON.parse((await cli(['jobs', 'show', job.id, '--json'])).stdout) as Job;
      expect(shownJson.runs[0]?.status).to.equal('rejected');
      expect(shownJson.runs[0]?.error).to.include('--deny "^rm "');
    });

    it('shows the reason in plain exec output (exit 1)', async () => {
      const res = await cli(['exec', '-t', 'guarded', '--no-tui', '--', 'rm -f /nonexistent']);
      expect(res.code).to.equal(1);
      expect(res.stdout + res.stderr).to.include(`refused by the agent's policy: matches --deny "^rm "`);
      expect(res.stdout + res.stderr).to.match(/rejected/);
    });

    it('matches the exec executor on its argv quoted back into one line', async () => {
      const victim = join(dir, 'victim-argv');
      await writeFile(victim, 'keep me\n');
      const res = await cli(['exec', '--executor', 'exec', '-t', 'guarded', '--json', '--', 'rm', '-f', victim]);
      expect(res.code).to.equal(1);
      expect((JSON.parse(res.stdout) as Job).runs[0]?.status).to.equal('rejected');
      expect(existsSync(victim)).to.equal(true);
    });

    it('matches a script on its text', async () => {
      const file = join(dir, 'down.sh');
      await writeFile(file, '#!/bin/sh\necho about to\nshutdown -h now\n');
      const res = await cli(['exec', '-t', 'guarded', '--json', '--script', file]);
      expect(res.code).to.equal(1);
      const run = (JSON.parse(res.stdout) as Job).runs[0];
      expect(run?.status).to.equal('rejected');
      expect(run?.stdout).to.equal('');
      expect(run?.error).to.include('--deny "shutdown"');
    });

    it('runs what no rule denies', async () => {
      const res = await cli(['exec', '-t', 'guarded', '--', 'echo', 'firm but fair']);
      expect(res.code, res.stderr).to.equal(0);
      expect(res.stdout).to.equal('guarded: firm but fair\n');
    });

    it('shows the policy in agent_info: `agents show` and `agents --json`', async () => {
      const shown = await cli(['agents', 'show', 'guarded']);
      expect(shown.code, shown.stderr).to.equal(0);
      expect(shown.stdout).to.match(/^policy: +deny \/\^rm \/, deny \/shutdown\/$/m);
      const agents = (JSON.parse((await cli(['agents', '--json'])).stdout) as { agents: Agent[] }).agents;
      expect(agents.find((a) => a.name === 'guarded')?.info?.policy).to.deep.equal({
        allow: [],
        deny: ['^rm ', 'shutdown'],
      });
    });
  });

  it('--allow: a command that matches no allow rule is rejected, one that matches runs; deny wins over allow', async () => {
    await agent('allowlisted', ['--allow', '^(uptime|echo)( |$)', '--deny', 'secret']);
    const refused = await cli(['exec', '-t', 'allowlisted', '--json', '--', 'id']);
    expect(refused.code).to.equal(1);
    const run = (JSON.parse(refused.stdout) as Job).runs[0];
    expect(run?.status).to.equal('rejected');
    expect(run?.error).to.equal("refused by the agent's policy: matches no --allow rule");

    const allowed = await cli(['exec', '-t', 'allowlisted', '--', 'echo', 'allowed']);
    expect(allowed.code, allowed.stderr).to.equal(0);
    expect(allowed.stdout).to.equal('allowlisted: allowed\n');

    const both = await cli(['exec', '-t', 'allowlisted', '--json', '--', 'echo', 'secret']);
    expect(both.code).to.equal(1);
    expect((JSON.parse(both.stdout) as Job).runs[0]?.error).to.include('--deny "secret"');
  });

  it('--policy FILE: `allow RE` / `deny RE` lines and the JSON form, merged with the flags', async () => {
    const lines = join(dir, 'policy.txt');
    await writeFile(lines, '# only what we need\nallow ^echo \n\ndeny ^echo forbidden\n');
    await agent('from-file', ['--policy', lines, '--deny', 'extra']);
    const ok = await cli(['exec', '-t', 'from-file', '--', 'echo', 'fine']);
    expect(ok.code, ok.stderr).to.equal(0);
    const denied = await cli(['exec', '-t', 'from-file', '--json', '--', 'echo', 'forbidden', 'words']);
    expect((JSON.parse(denied.stdout) as Job).runs[0]?.error).to.include('--deny "^echo forbidden"');
    const notAllowed = await cli(['exec', '-t', 'from-file', '--json', '--', 'date']);
    expect((JSON.parse(notAllowed.stdout) as Job).runs[0]?.status).to.equal('rejected');
    const info = (await controller.agents.find('from-file')).info;
    expect(info?.policy).to.deep.equal({ allow: ['^echo '], deny: ['extra', '^echo forbidden'] });

    const json = join(dir, 'policy.json');
    await writeFile(json, JSON.stringify({ deny: ['^touch '] }));
    await agent('from-json', ['--policy', json]);
    const touched = join(dir, 'touched');
    const res = await cli(['exec', '-t', 'from-json', '--json', '--', `touch ${touched}`]);
    expect((JSON.parse(res.stdout) as Job).runs[0]?.status).to.equal('rejected');
    expect(existsSync(touched)).to.equal(false);
  });

  describe('bad policies stop the agent at start with a clear message', () => {
    const start = (flags: string[]) =>
      runCli(['agent', 'run', '--controller', controller.url, '--name', 'bad', ...flags], {
        env: { OGENT_PASSWORD: 'whatever-123' },
      });

    it('an invalid --deny regular expression: exit 2, naming it', async () => {
      const res = await start(['--deny', '^rm (']);
      expect(res.code).to.equal(2);
      expect(res.stderr).to.include('--deny "^rm (" is not a valid regular expression');
    });

    it('an invalid --allow, an empty one', async () => {
      const res = await start(['--allow', '[a-']);
      expect(res.code).to.equal(2);
      expect(res.stderr).to.include('--allow "[a-" is not a valid regular expression');
      const empty = await start(['--allow', '']);
      expect(empty.code).to.equal(2);
      expect(empty.stderr).to.include('an empty regular expression would match everything');
    });

    it('a policy file with a bad line, bad JSON, an invalid expression, or none at all', async () => {
      const bad = join(dir, 'bad.txt');
      await writeFile(bad, 'allow ^ok$\npermit everything\n');
      let res = await start(['--policy', bad]);
      expect(res.code).to.equal(2);
      expect(res.stderr).to.include(`policy file ${bad}, line 2: expected "allow RE" or "deny RE"`);

      const badJson = join(dir, 'bad.json');
      await writeFile(badJson, '{"deny": "^rm "}');
      res = await start(['--policy', badJson]);
      expect(res.code).to.equal(2);
      expect(res.stderr).to.include('"deny" must be an array of strings');

      const badRe = join(dir, 'bad-re.txt');
      await writeFile(badRe, 'deny (unclosed\n');
      res = await start(['--policy', badRe]);
      expect(res.code).to.equal(2);
      expect(res.stderr).to.include('"(unclosed" is not a valid regular expression');

      res = await start(['--policy', join(dir, 'missing.txt')]);
      expect(res.code).to.equal(2);
      expect(res.stderr).to.include('cannot read the policy file');
    });
  });

  describe('--run-as', () => {
    const user = `ogt${process.pid % 100000}`;
    const group = `${user}g`;

    before(function () {
      if (process.getuid?.() !== 0) throw new Error('these tests need root (they create a user)');
      spawnSync('userdel', ['-r', user], { stdio: 'ignore' });
      spawnSync('groupdel', [group], { stdio: 'ignore' });
      const g = spawnSync('groupadd', [group], { encoding: 'utf8' });
      expect(g.status, g.stderr).to.equal(0);
      const u = spawnSync('useradd', ['-m', '-G', group, '-s', '/bin/sh', user], { encoding: 'utf8' });
      expect(u.status, u.stderr).to.equal(0);
      fx.defer(() => {
        spawnSync('userdel', ['-r', user], { stdio: 'ignore' });
        spawnSync('groupdel', [group], { stdio: 'ignore' });
      });
    });

    it("runs commands as the user: uid, gid, supplementary groups, HOME, USER, LOGNAME; not the agent's password", async () => {
      await agent('demoted', ['--run-as', user]);
      const res = await cli([
        'exec',
        '-t',
        'demoted',
        '--json',
        '--',
        'id -un; id -gn; id -Gn; echo "$HOME $USER $LOGNAME"; pwd; echo "pw=${OGENT_PASSWORD:-none}"',
      ]);
      expect(res.code, res.stderr).to.equal(0);
      const lines = (JSON.parse(res.stdout) as Job).runs[0]?.stdout.split('\n') ?? [];
      expect(lines[0]).to.equal(user);
      expect(lines[1]).to.equal(user);
      expect(lines[2]?.split(' ').sort()).to.deep.equal([group, user].sort());
      expect(lines[3]).to.equal(`/home/${user} ${user} ${user}`);
      expect(lines[4]).to.equal(`/home/${user}`);
      expect(lines[5]).to.equal('pw=none');
      expect((await controller.agents.find('demoted')).info?.runAs).to.equal(user);
      expect((await cli(['agents', 'show', 'demoted'])).stdout).to.match(new RegExp(`^run as: +${user}$`, 'm'));
    });

    it('the exec and script executors run as the user too; root-only files stay closed', async () => {
      const argv = await cli(['exec', '--executor', 'exec', '-t', 'demoted', '--', 'id', '-u']);
      const uid = spawnSync('id', ['-u', user], { encoding: 'utf8' }).stdout.trim();
      expect(argv.stdout).to.equal(`demoted: ${uid}\n`);
      const file = join(dir, 'who.sh');
      await writeFile(
        file,
        '#!/bin/sh\nid -un\ncat /etc/shadow >/dev/null 2>&1 && echo read-shadow || echo no-shadow\n',
      );
      const script = await cli(['exec', '-t', 'demoted', '--script', file]);
      expect(script.code, script.stderr).to.equal(0);
      expect(script.stdout).to.equal(`demoted: ${user}\ndemoted: no-shadow\n`);
    });

    it('an unknown user stops the agent at start (exit 1)', async () => {
      const res = await runCli(
        ['agent', 'run', '--controller', controller.url, '--name', 'x', '--run-as', 'no-such-user-ogent'],
        {
          env: { OGENT_PASSWORD: 'whatever-123' },
        },
      );
      expect(res.code).to.equal(1);
      expect(res.stderr).to.include('--run-as: no user "no-such-user-ogent" on this host');
    });

    it('an agent that is not root cannot --run-as (exit 1)', async () => {
      const home = join(dir, 'nobody-home');
      await mkdir(home, { recursive: true });
      const res = spawnSync(
        'setpriv',
        [
          '--reuid=nobody',
          '--regid=nogroup',
          '--clear-groups',
          '--',
          process.execPath,
          BIN,
          'agent',
          'run',
          '--controller',
          controller.url,
          '--name',
          'x',
          '--run-as',
          user,
        ],
        { encoding: 'utf8', env: { ...process.env, OGENT_PASSWORD: 'whatever-123', HOME: '/tmp' }, timeout: 20_000 },
      );
      expect(res.status, res.stderr).to.equal(1);
      expect(res.stderr).to.match(/--run-as \S+ needs the agent to run as root \(it runs as uid 65534\)/);
    });
  });
});

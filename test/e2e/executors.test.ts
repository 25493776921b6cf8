import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import type { RunningController } from '../../src/controller/index.js';
import type { Job } from '../../src/domain/model.js';
import { runCli } from '../helpers/cli.js';
import { agentWith } from '../helpers/executor-helpers.js';
import { startSshd, type TestSshd } from '../helpers/executor-sshd.js';
import { ADMIN_PASSWORD, Fixtures } from '../helpers/fixtures.js';

describe('exec --executor / --script / --cwd (real bin/run.js)', function () {
  this.timeout(30_000);
  const fx = new Fixtures();
  let sshd: TestSshd;
  let controller: RunningController;
  let dir: string;

  before(async () => {
    sshd = await startSshd(await fx.tempDir('ogent-sshd-'));
    fx.defer(() => sshd.stop());
    controller = await fx.controller();
    await agentWith(fx, controller, 'box', { sshHosts: { far: sshd.destination }, sshConfig: sshd.clientConfig });
    dir = await fx.tempDir();
  });
  after(() => fx.cleanup());

  const cli = (args: string[]) =>
    runCli(['exec', ...args], {
      env: { OGENT_CONTROLLER: controller.url, OGENT_USERNAME: 'admin', OGENT_PASSWORD: ADMIN_PASSWORD },
    });

  it('--executor exec passes argv without a shell: $HOME stays literal', async () => {
    const res = await cli(['--executor', 'exec', '-t', 'box', '--', 'echo', '$HOME', '*', 'a  b']);
    expect(res.code, res.stderr).to.equal(0);
    expect(res.stdout).to.equal('box: $HOME * a  b\n');
  });

  it('the shell executor expands what a shell expands (the contrast)', async () => {
    const res = await cli(['-t', 'box', '--', 'echo', '$HOME']);
    expect(res.stdout).to.equal(`box: ${process.env.HOME}\n`);
  });

  it('takes the command after -t without --', async () => {
    const res = await cli(['-t', 'box', '--cwd', dir, 'pwd']);
    expect(res.code, res.stderr).to.equal(0);
    expect(res.stdout).to.equal(`box: ${dir}\n`);
  });

  it('--script sends the file, runs it with its bash shebang and arguments, and removes it', async () => {
    const file = join(dir, 'deploy.sh');
    await writeFile(
      file,
      '#!/usr/bin/env bash\nwords=("$@")\necho "n=${#words[@]} last=${words[-1]}"\necho "path=$0"\n',
    );
    const res = await cli(['-t', 'box', '--json', '--script', file, '--', 'v1', 'two words']);
    expect(res.code, res.stderr).to.equal(0);
    const job = JSON.parse(res.stdout) as Job;
    expect(job.executor).to.equal('script');
    expect(job.command).to.equal("deploy.sh v1 'two words'");
    const stdout = job.runs[0]?.stdout ?? '';
    expect(stdout).to.include('n=2 last=two words\n');
    const path = /^path=(.+)$/m.exec(stdout)?.[1] ?? '';
    expect(path).to.match(/ogent-script-/);
    expect(existsSync(path)).to.equal(false);
  });

  it('refuses a script without a shebang line (exit 2)', async () => {
    const file = join(dir, 'plain.sh');
    await writeFile(file, 'echo hi\n');
    const res = await cli(['-t', 'box', '--script', file]);
    expect(res.code).to.equal(2);
    expect(res.stderr).to.include('has no shebang line');
  });

  it('--executor ssh runs on a configured host, with its exit code', async () => {
    const ok = await cli(['--executor', 'ssh', '-t', 'far', '--', 'echo', 'hi', 'from', '$(hostname)']);
    expect(ok.code, ok.stderr).to.equal(0);
    expect(ok.stdout).to.match(/^far: hi from \S+\n$/);
    const failed = await cli(['--executor', 'ssh', '-t', 'far', '--', 'exit 4']);
    expect(failed.code).to.equal(1);
    expect(failed.stderr).to.include('far: [exit 4]');
  });

  it('--executor ssh --via AGENT --ssh-target DEST reaches a host given on the command line', async () => {
    const res = await cli(['--executor', 'ssh', '--via', 'box', '--ssh-target', sshd.destination, '--', 'echo ok']);
    expect(res.code, res.stderr).to.equal(0);
    expect(res.stdout).to.equal(`${sshd.destination}: ok\n`);
  });

  for (const [args, message] of [
    [['--executor', 'ssh', '--ssh-target', 'h', '--', 'id'], '--ssh-target and --via go together'],
    [['--executor', 'ssh', '--via', 'box', '--ssh-target', 'h', '-t', 'box', '--', 'id'], 'give no -t or --all'],
    [['--ssh-target', 'h', '--via', 'box', '--', 'id'], 'go with --executor ssh'],
    [['--executor', 'exec', '-t', 'box', '--script', 'x.sh'], 'not exec'],
    [['-t', 'box', '--dry-run', '--', 'id'], '--dry-run and --allow-high-risk go with --ai or --review'],
    [['--executor', 'ssh', '--via', 'box', '--ssh-target', '-oProxyCommand=id', '--', 'id'], 'invalid ssh target'],
  ] as const) {
    it(`refuses ${args.join(' ')} (exit 2)`, async () => {
      const res = await cli([...args]);
      expect(res.code).to.equal(2);
      expect(res.stderr).to.include(message);
    });
  }

  it('agent run refuses a malformed --ssh-host (exit 2)', async () => {
    const res = await runCli(['agent', 'run', '--name', 'a1', '--ssh-host', 'db=-oProxyCommand=id']);
    expect(res.code).to.equal(2);
    expect(res.stderr).to.include('invalid --ssh-host "db=-oProxyCommand=id"');
  });
});

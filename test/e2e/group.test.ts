import { expect } from 'chai';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { passwordTokens, startAgent } from '../../src/agent/index.js';
import type { RunningController } from '../../src/controller/index.js';
import type { Job } from '../../src/domain/model.js';
import { silentLogger } from '../../src/lib/log.js';
import { execInBackground, runCli } from '../helpers/cli.js';
import { ADMIN_PASSWORD, Fixtures, waitFor } from '../helpers/fixtures.js';
import { getJob } from '../integration/support.js';

interface GroupsJson {
  id: string;
  groups: {
    agents: string[];
    count: number;
    status: string;
    exitCode: number | null;
    stdout: string;
    stderr: string;
  }[];
}

/** `--group` (README, Grouped output): a fleet's answers, one block each, through the real CLI. */
describe('exec --group, jobs show --group, jobs wait --group (real controller, 6 agents)', function () {
  this.timeout(60_000);
  const fx = new Fixtures();
  let controller: RunningController;
  let env: Record<string, string>;

  before(async () => {
    controller = await fx.controller({ dataDir: await fx.tempDir() });
    for (let i = 1; i <= 5; i++) await fx.agent(controller, `g-${i}`);
    // The sixth refuses every command by policy: its run differs (rejected, with the reason).
    await controller.auth.addUser({ name: 'admin', role: 'admin' }, 'g-6', 'agent', 'pw-g-6-123456');
    const odd = await startAgent({
      controller: controller.url,
      name: 'g-6',
      labels: {},
      stateDir: null,
      tokens: passwordTokens(controller.url, 'g-6', 'pw-g-6-123456'),
      log: silentLogger,
      policy: { allow: [], deny: ['.'] },
    });
    fx.defer(() => odd.stop());
    await odd.ready;
    env = await fx.cliEnv(controller);
  });
  after(() => fx.cleanup());

  it('plain: one block per distinct output, largest first, names folded, the output once', async () => {
    const res = await runCli(['exec', '-t', 'g-*', '--group', '--', 'echo same; echo err >&2'], { env });
    expect(res.code, res.stderr).to.equal(1);
    const lines = res.stdout.split('\n');
    expect(lines.slice(0, 4)).to.deep.equal(['----------------', 'g-[1-5] (5)', '----------------', 'same']);
    expect(lines[5]).to.match(/^g-6 \(1\): rejected, /);
    expect(res.stdout.match(/same/g)).to.have.length(1);
    // stderr: the job's id first, the group's stderr once, the summary last.
    expect(res.stderr).to.match(/^job (\S+): 6 runs on 6 agents\n/);
    expect(res.stderr.match(/^err$/gm)).to.have.length(1);
    expect(res.stderr).to.match(/job \S+ failed: 5 succeeded, 1 rejected/);
  });

  it('--json: {id, groups} with agents, count, status, exit code and output, largest first', async () => {
    const res = await runCli(['exec', '-t', 'g-*', '--group', '--json', '--', 'printf "a\\nb"'], { env });
    expect(res.code, res.stderr).to.equal(1);
    const out = JSON.parse(res.stdout) as GroupsJson;
    expect(out.id).to.match(/^j/);
    expect(out.groups).to.have.length(2);
    expect(out.groups[0]).to.deep.include({
      agents: ['g-1', 'g-2', 'g-3', 'g-4', 'g-5'],
      count: 5,
      status: 'succeeded',
      exitCode: 0,
      stdout: 'a\nb',
      stderr: '',
    });
    expect(out.groups[1]).to.deep.include({ agents: ['g-6'], count: 1, status: 'rejected' });
    expect(res.stderr).to.not.match(/^job \S+: 6 runs/m);
  });

  it('jobs show --group and jobs wait --group give the same groups of a finished job', async () => {
    const started = await runCli(['exec', '-t', 'g-[1-5]', '--async', '--', 'echo one'], { env });
    const id = started.stdout.trim();
    const wait = await runCli(['jobs', 'wait', id, '--group', '--json'], { env });
    expect(wait.code, wait.stderr).to.equal(0);
    const show = await runCli(['jobs', 'show', id, '--group', '--json'], { env });
    expect(show.code, show.stderr).to.equal(0);
    for (const res of [wait, show]) {
      const out = JSON.parse(res.stdout) as GroupsJson;
      expect(out.groups.map((g) => [g.agents, g.stdout])).to.deep.equal([
        [['g-1', 'g-2', 'g-3', 'g-4', 'g-5'], 'one\n'],
      ]);
    }
    const plain = await runCli(['jobs', 'show', id, '--group'], { env });
    expect(plain.stdout).to.equal('----------------\ng-[1-5] (5)\n----------------\none\n');
  });

  it('plain exec names the job on stderr first, while the job is still running', async () => {
    const marker = join(await fx.tempDir(), 'go');
    const bg = execInBackground(controller.url, ADMIN_PASSWORD, env.XDG_CONFIG_HOME as string, [
      '-t',
      'g-1',
      '--',
      `while [ ! -e ${marker} ]; do sleep 0.05; done; echo x`,
    ]);
    fx.defer(() => bg.kill());
    const line = await waitFor(() => /^job (j\S+): 1 run on 1 agent\n/.exec(bg.err()), 'the job line on stderr');
    // The run is still waiting for the marker: the job line came before it ended.
    const job = await getJob(controller, await fx.adminToken(controller), line[1] as string);
    expect(job.status).to.equal('running');
    await writeFile(marker, '');
    expect(await bg.exited).to.equal(0);
    expect(bg.out()).to.equal('g-1: x\n');
  });

  it('jobs rerun runs exactly the runs that did not succeed, or --status, or --all; exit codes as exec', async () => {
    const first = await runCli(['exec', '-t', 'g-*', '--json', '--', 'echo again'], { env });
    const old = JSON.parse(first.stdout) as Job;
    expect(first.code).to.equal(1);
    const again = await runCli(['jobs', 'rerun', old.id, '--json'], { env });
    expect(again.code, again.stderr).to.equal(1);
    const rerun = JSON.parse(again.stdout) as Job;
    expect(rerun.rerunOf).to.equal(old.id);
    expect(rerun.runs.map((r) => [r.agent.name, r.status])).to.deep.equal([['g-6', 'rejected']]);
    const ok = await runCli(['jobs', 'rerun', old.id, '--status', 'succeeded', '--group', '--json'], { env });
    expect(ok.code, ok.stderr).to.equal(0);
    const groups = (JSON.parse(ok.stdout) as GroupsJson).groups;
    expect(groups.map((g) => [g.agents, g.stdout])).to.deep.equal([[['g-1', 'g-2', 'g-3', 'g-4', 'g-5'], 'again\n']]);
    const all = await runCli(['jobs', 'rerun', old.id, '--all', '--async'], { env });
    expect(all.code, all.stderr).to.equal(0);
    const wait = await runCli(['jobs', 'wait', all.stdout.trim(), '--json'], { env });
    expect((JSON.parse(wait.stdout) as Job).runs).to.have.length(6);
  });

  it('jobs rerun refuses what it cannot do: nothing to re-run (5), a bad --status (2), a running job (1)', async () => {
    const done = JSON.parse((await runCli(['exec', '-t', 'g-1', '--json', '--', 'true'], { env })).stdout) as Job;
    const none = await runCli(['jobs', 'rerun', done.id], { env });
    expect(none.code).to.equal(5);
    expect(none.stderr).to.match(/nothing to run again/);
    const bad = await runCli(['jobs', 'rerun', done.id, '--status', 'exploded'], { env });
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.match(/unknown status "exploded"/);
    const slow = await runCli(['exec', '-t', 'g-1', '--async', '--', 'sleep 5'], { env });
    const running = await runCli(['jobs', 'rerun', slow.stdout.trim()], { env });
    expect(running.code).to.not.equal(0);
    expect(running.stderr).to.match(/still running/);
    await runCli(['jobs', 'cancel', slow.stdout.trim()], { env });
  });
});

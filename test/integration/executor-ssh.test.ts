import { expect } from 'chai';
import type { RunningController } from '../../src/controller/index.js';
import { AppError } from '../../src/controller/application/errors.js';
import { Fixtures } from '../helpers/fixtures.js';
import { agentWith, createJob, onlyRun, rejection, runJob } from '../helpers/executor-helpers.js';
import { startSshd, type TestSshd } from '../helpers/executor-sshd.js';

describe('ssh executor (a real sshd on a loopback port)', function () {
  const once = new Fixtures();
  const fx = new Fixtures();
  let sshd: TestSshd;
  let controller: RunningController;

  before(async () => {
    sshd = await startSshd(await once.tempDir('ogent-sshd-'));
    once.defer(() => sshd.stop());
  });
  after(() => once.cleanup());

  beforeEach(async () => {
    controller = await fx.controller();
    await agentWith(
      fx,
      controller,
      'gw',
      { sshHosts: { box: sshd.destination }, sshConfig: sshd.clientConfig },
      { dc: 'par1' },
    );
  });
  afterEach(() => fx.cleanup());

  it('offers the ssh executor and its configured hosts in agent_info', async () => {
    const info = (await controller.agents.find('gw')).info;
    expect(info?.executors).to.include('ssh');
    expect(info?.sshHosts).to.deep.equal(['box']);
  });

  it('runs a command on a configured host, a target of its own, with its output and exit code', async () => {
    const job = await runJob(controller, {
      executor: 'ssh',
      target: ['box'],
      command: 'echo "out $((1 + 2))"; echo err >&2; exit 3',
    });
    const run = onlyRun(job);
    expect(run.agent.name).to.equal('box');
    expect(run.via?.name).to.equal('gw');
    expect(run.status).to.equal('failed');
    expect(run.exitCode).to.equal(3);
    expect(run.stdout).to.equal('out 3\n');
    expect(run.stderr).to.equal('err\n');
  });

  it('selects ssh hosts by name, by their agent (via=AGENT) and its labels', async () => {
    for (const target of [['b*'], ['via=gw'], ['dc=par1'], []]) {
      const run = onlyRun(await runJob(controller, { executor: 'ssh', target, command: 'true' }));
      expect(run.agent.name, target.join(',')).to.equal('box');
      expect(run.status).to.equal('succeeded');
    }
    const err = await rejection(createJob(controller, { executor: 'ssh', target: ['gw'], command: 'true' }));
    expect(err).to.be.instanceOf(AppError);
    expect(err.message).to.equal("no ssh host (agent run --ssh-host) matched -t 'gw'");
  });

  it('reaches a --ssh-target through the agent --via names, with the environment and directory given', async () => {
    const job = await runJob(controller, {
      executor: 'ssh',
      sshTarget: sshd.destination,
      via: ['gw'],
      command: 'echo "$GREETING"; pwd',
      env: { GREETING: "it's $HOME" },
      cwd: '/tmp',
    });
    const run = onlyRun(job);
    expect(run.status, run.stderr).to.equal('succeeded');
    expect(run.exitCode).to.equal(0);
    expect(run.stdout).to.equal("it's $HOME\n/tmp\n");
    expect(run.agent.name).to.equal(sshd.destination);
    expect(job.sshTarget).to.equal(sshd.destination);
  });

  it('never prompts: an unknown host key fails the run', async () => {
    await agentWith(fx, controller, 'stranger', { sshConfig: sshd.strangerConfig });
    const run = onlyRun(
      await runJob(controller, { executor: 'ssh', sshTarget: sshd.destination, via: ['stranger'], command: 'true' }),
    );
    expect(run.status).to.equal('failed');
    expect(run.exitCode).to.equal(255);
    expect(run.stderr).to.match(/Host key verification failed/);
  });

  it('ends a run past its timeout', async () => {
    const run = onlyRun(
      await runJob(controller, { executor: 'ssh', target: ['box'], command: 'sleep 3', timeoutMs: 500 }),
    );
    expect(run.status).to.equal('timed_out');
  });
});

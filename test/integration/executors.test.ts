import { existsSync } from 'node:fs';
import { expect } from 'chai';
import type { RunningController } from '../../src/controller/index.js';
import { AppError } from '../../src/controller/application/errors.js';
import { Fixtures, waitFor } from '../helpers/fixtures.js';
import { alive } from '../helpers/processes.js';
import { agentWith, createJob, finished, onlyRun, rejection, runJob } from '../helpers/executor-helpers.js';

describe('executors (real processes through an agent)', function () {
  const fx = new Fixtures();
  let controller: RunningController;

  beforeEach(async () => {
    controller = await fx.controller();
    await fx.agent(controller, 'box');
  });
  afterEach(() => fx.cleanup());

  it('says which executors the agent offers in agent_info', async () => {
    const agent = await controller.agents.find('box');
    expect(agent.info?.executors).to.include.members(['shell', 'exec', 'script', 'ssh']);
  });

  describe('exec', () => {
    it('runs argv without a shell: nothing is expanded', async () => {
      const job = await runJob(controller, {
        executor: 'exec',
        target: ['box'],
        args: ['printf', '%s|', '$HOME', 'a b', '*', '`id`', '$(id)', "it's"],
      });
      const run = onlyRun(job);
      expect(run.status).to.equal('succeeded');
      expect(run.stdout).to.equal("$HOME|a b|*|`id`|$(id)|it's|");
      expect(job.command).to.equal(`printf '%s|' '$HOME' 'a b' '*' '\`id\`' '$(id)' 'it'\\''s'`);
      expect(job.args).to.deep.equal(['printf', '%s|', '$HOME', 'a b', '*', '`id`', '$(id)', "it's"]);
    });

    it('runs in the working directory with the environment variables given', async () => {
      const dir = await fx.tempDir();
      const job = await runJob(controller, {
        executor: 'exec',
        target: ['box'],
        args: [process.execPath, '-e', 'console.log(process.cwd() + " " + process.env.GREETING)'],
        cwd: dir,
        env: { GREETING: 'hello $USER' },
      });
      expect(onlyRun(job).stdout).to.equal(`${dir} hello $USER\n`);
    });

    it('fails the run with the reason when the program does not exist', async () => {
      const run = onlyRun(
        await runJob(controller, { executor: 'exec', target: ['box'], args: ['no-such-program-x1'] }),
      );
      expect(run.status).to.equal('failed');
      expect(run.error).to.match(/ENOENT|not found/);
    });

    it('is refused by the controller without args', async () => {
      const err = await rejection(createJob(controller, { executor: 'exec', target: ['box'], command: 'ls' }));
      expect(err).to.be.instanceOf(AppError);
      expect(err.status).to.equal(400);
      expect(err.message).to.equal('command does not apply to the exec executor');
    });
  });

  describe('shell', () => {
    it('runs in the working directory given', async () => {
      const dir = await fx.tempDir();
      const run = onlyRun(
        await runJob(controller, { target: ['box'], command: 'pwd; echo "$X"', cwd: dir, env: { X: '1' } }),
      );
      expect(run.stdout).to.equal(`${dir}\n1\n`);
    });

    it("passes the agent's environment, with the job's variables over it when there are any", async () => {
      process.env.OGENT_TEST_AGENT_VAR = 'from-agent';
      process.env.OGENT_TEST_BOTH = 'agent';
      fx.defer(() => {
        delete process.env.OGENT_TEST_AGENT_VAR;
        delete process.env.OGENT_TEST_BOTH;
      });
      const command = 'echo "$OGENT_TEST_AGENT_VAR|${OGENT_TEST_BOTH:-unset}|${OGENT_TEST_JOB:-unset}"';
      const plain = onlyRun(await runJob(controller, { target: ['box'], command }));
      expect(plain.stdout).to.equal('from-agent|agent|unset\n');
      const withEnv = onlyRun(
        await runJob(controller, { target: ['box'], command, env: { OGENT_TEST_BOTH: 'job', OGENT_TEST_JOB: 'j' } }),
      );
      expect(withEnv.stdout).to.equal('from-agent|job|j\n');
    });
  });

  describe('script', () => {
    const script = [
      '#!/usr/bin/env bash',
      'set -euo pipefail',
      'echo "path=$0"',
      'echo "args=$#:$1:$2"',
      'echo "mode=$(stat -c %a "$0") dir=$(stat -c %a "$(dirname "$0")")"',
      'arr=(one two three); echo "bash=${arr[2]}"',
    ].join('\n');

    it('runs the content with its shebang and arguments, from a private file removed afterwards', async () => {
      const job = await runJob(controller, {
        executor: 'script',
        target: ['box'],
        script,
        scriptName: 'deploy.sh',
        args: ['v 2', '$HOME'],
      });
      const run = onlyRun(job);
      expect(run.status, run.stderr).to.equal('succeeded');
      const path = /^path=(.+)$/m.exec(run.stdout)?.[1] ?? '';
      expect(path).to.match(/ogent-script-/);
      expect(run.stdout).to.include('args=2:v 2:$HOME\n');
      expect(run.stdout).to.include('mode=700 dir=700\n');
      expect(run.stdout).to.include('bash=three\n');
      expect(existsSync(path), 'the script file is removed').to.equal(false);
      expect(job.command).to.equal("deploy.sh 'v 2' '$HOME'");
      expect(job.script).to.equal(script);
    });

    it('kills the process tree on timeout and still removes the file', async () => {
      const job = await runJob(controller, {
        executor: 'script',
        target: ['box'],
        script: '#!/bin/sh\necho "path=$0"\nsleep 300 &\necho "child=$!"\nwait\n',
        timeoutMs: 1000,
      });
      const run = onlyRun(job);
      expect(run.status).to.equal('timed_out');
      const path = /^path=(.+)$/m.exec(run.stdout)?.[1] ?? '';
      const child = Number(/^child=(\d+)$/m.exec(run.stdout)?.[1]);
      expect(path).to.match(/ogent-script-/);
      expect(existsSync(path)).to.equal(false);
      await waitFor(async () => !(await alive(child)), `background child ${child} to be gone`);
    });

    it('removes the file when the job is cancelled', async () => {
      const created = await createJob(controller, {
        executor: 'script',
        target: ['box'],
        script: '#!/bin/sh\necho "path=$0"\nexec sleep 300\n',
      });
      const path = await waitFor(async () => {
        const stdout = (await controller.jobs.get(created.id)).runs[0]?.stdout ?? '';
        return /^path=(.+)$/m.exec(stdout)?.[1];
      }, 'the script to start');
      expect(existsSync(path)).to.equal(true);
      await controller.jobs.cancel(created.id, { name: 'admin', role: 'admin' });
      const run = onlyRun(await finished(controller, created.id));
      expect(run.status).to.equal('cancelled');
      expect(existsSync(path)).to.equal(false);
    });

    it('is refused without a shebang line', async () => {
      const err = await rejection(createJob(controller, { executor: 'script', target: ['box'], script: 'echo hi\n' }));
      expect(err).to.be.instanceOf(AppError);
      expect(err.status).to.equal(400);
      expect(err.message).to.match(/shebang/);
    });
  });

  describe('an executor the agent does not offer', () => {
    it('ends the run rejected, with the reason', async () => {
      await agentWith(fx, controller, 'nossh', { sshBinary: null });
      expect((await controller.agents.find('nossh')).info?.executors).to.not.include('ssh');
      const job = await runJob(controller, {
        executor: 'ssh',
        command: 'uptime',
        sshTarget: 'root@127.0.0.1',
        via: ['nossh'],
      });
      const run = onlyRun(job);
      expect(run.status).to.equal('rejected');
      expect(run.error).to.equal('executor "ssh" is not available on this agent');
      expect(run.via?.name).to.equal('nossh');
    });
  });
});

import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Agent, Job } from '../../src/domain/model.js';
import { BIN, startDaemon } from '../helpers/cli.js';
import { waitFor } from '../helpers/fixtures.js';
import { processScope } from '../helpers/scope.js';
import {
  ADMIN_PASSWORD,
  adminToken,
  api,
  controllerProcess,
  createAgentUsers,
  endedJob,
  freePort,
  type ControllerProcess,
} from '../helpers/processes.js';
import { swarmPassword } from '../helpers/swarm.js';

/** SIGTERM with real `bin/run.js` processes: everyone exits 0 and no result is lost. */
type SpooledChunk = { seq: number; stream: string; data: string; encoding?: string };

describe('graceful shutdown on SIGTERM (real processes)', function () {
  this.timeout(90_000);
  const scope = processScope('ogent-shutdown-');
  const { track } = scope;
  const startAgentProcess = async (url: string, name: string, extra: string[] = []) =>
    track(
      await startDaemon(
        ['agent', 'run', '--controller', url, '--name', name, '--state-dir', join(scope.root, name), ...extra],
        /"msg":"connected"/,
        { env: { OGENT_PASSWORD: swarmPassword(name), OGENT_LOG_LEVEL: 'info' } },
      ),
    );
  const online = (c: ControllerProcess, token: string, name: string) =>
    waitFor(
      async () =>
        (await api<{ agents: Agent[] }>(c.url, token, '/api/v1/agents')).agents.some(
          (a) => a.name === name && a.status === 'online',
        ),
      `${name} online`,
      30_000,
    );
  const createJob = (c: ControllerProcess, token: string, command: string, agent: string) =>
    api<Job>(c.url, token, '/api/v1/jobs', 'POST', { command, target: [agent], timeoutMs: 60_000 });
  const ended = (c: ControllerProcess, token: string, id: string) => endedJob(c.url, token, id);
  const started = (marker: string) =>
    waitFor(async () => (await readFile(marker, 'utf8').catch(() => '')) !== '', 'the command to start');

  it('controller: SIGTERM mid-job exits 0; restarted, the job finishes and `exec` following it gets the result', async () => {
    const port = await freePort();
    const data = join(scope.root, 'data');
    let controller = track(await controllerProcess(data, port));
    await createAgentUsers(controller.url, 'c', 1);
    const agent = await startAgentProcess(controller.url, 'c-1');
    const token = await adminToken(controller.url);
    await online(controller, token, 'c-1');

    const marker = join(scope.root, 'started');
    const exec = spawn(
      process.execPath,
      [BIN, 'exec', '-t', 'c-1', '--json', '--patience', '60s', '--', `echo go > ${marker}; sleep 2; echo done`],
      {
        env: {
          ...process.env,
          OGENT_CONTROLLER: controller.url,
          OGENT_USERNAME: 'admin',
          OGENT_PASSWORD: ADMIN_PASSWORD,
          XDG_CONFIG_HOME: scope.root,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    scope.defer(() => exec.kill('SIGKILL'));
    let stdout = '';
    let stderr = '';
    exec.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    exec.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const execExit = new Promise<number | null>((resolve) => exec.on('exit', (code) => resolve(code)));
    await started(marker);

    expect(await controller.stop('SIGTERM'), controller.output()).to.equal(0);

    controller = track(await controllerProcess(data, port));
    expect(await execExit, stderr).to.equal(0);
    const done = JSON.parse(stdout) as Job;
    expect(done.status).to.equal('succeeded');
    expect(done.runs[0]?.stdout).to.equal('done\n');
    expect(await agent.stop('SIGTERM'), agent.output()).to.equal(0);
  });

  it('agent: SIGTERM mid-run stops taking runs, lets the run finish within --shutdown-grace, reports it, exits 0', async () => {
    const controller = track(await controllerProcess(join(scope.root, 'data'), await freePort()));
    await createAgentUsers(controller.url, 'g', 1);
    const agent = await startAgentProcess(controller.url, 'g-1', ['--shutdown-grace', '30s']);
    const token = await adminToken(controller.url);
    await online(controller, token, 'g-1');

    const marker = join(scope.root, 'started');
    const running = await createJob(controller, token, `echo go > ${marker}; sleep 2; echo finished`, 'g-1');
    await started(marker);
    const exited = agent.stop('SIGTERM');
    await waitFor(() => agent.output().includes('agent stopping'), 'the agent to start stopping');
    const refused = await ended(controller, token, (await createJob(controller, token, 'echo never', 'g-1')).id);
    expect(refused.runs[0]).to.include({ status: 'rejected', error: 'the agent is shutting down' });

    expect(await exited, agent.output()).to.equal(0);
    const done = await ended(controller, token, running.id);
    expect(done.runs[0]).to.include({ status: 'succeeded', stdout: 'finished\n' });
  });

  it('agent: past --shutdown-grace the run is cancelled and reported, and the agent exits 0', async () => {
    const controller = track(await controllerProcess(join(scope.root, 'data'), await freePort()));
    await createAgentUsers(controller.url, 'k', 1);
    const agent = await startAgentProcess(controller.url, 'k-1', ['--shutdown-grace', '1s']);
    const token = await adminToken(controller.url);
    await online(controller, token, 'k-1');

    const marker = join(scope.root, 'started');
    const running = await createJob(controller, token, `echo go > ${marker}; sleep 60`, 'k-1');
    await started(marker);
    expect(await agent.stop('SIGTERM'), agent.output()).to.equal(0);
    const done = await ended(controller, token, running.id);
    expect(done.runs[0]).to.include({
      status: 'cancelled',
      error: 'the agent was stopped before the command finished',
    });
  });

  it('both stopped with a result not yet reported: it waits in the spool and arrives after both restart', async () => {
    const port = await freePort();
    const data = join(scope.root, 'data');
    let controller = track(await controllerProcess(data, port));
    await createAgentUsers(controller.url, 'b', 1);
    let agent = await startAgentProcess(controller.url, 'b-1');
    let token = await adminToken(controller.url);
    await online(controller, token, 'b-1');

    const marker = join(scope.root, 'started');
    const running = await createJob(controller, token, `echo go > ${marker}; sleep 1; echo kept`, 'b-1');
    await started(marker);
    expect(await controller.stop('SIGTERM'), controller.output()).to.equal(0);
    const spool = join(scope.root, 'b-1', 'spool.json');
    await waitFor(
      async () => JSON.parse(await readFile(spool, 'utf8')).results.length === 1,
      'the result to be spooled',
    );
    expect(await agent.stop('SIGTERM'), agent.output()).to.equal(0);
    // Its output is kept with it, as base64 bytes.
    const kept = (JSON.parse(await readFile(spool, 'utf8')) as { output: Record<string, SpooledChunk[]> }).output;
    const chunks = kept[running.runs[0]?.id ?? ''] ?? [];
    expect(chunks.map((c) => c.encoding)).to.deep.equal(chunks.map(() => 'base64'));
    expect(Buffer.concat(chunks.map((c) => Buffer.from(c.data, 'base64'))).toString()).to.equal('kept\n');

    controller = track(await controllerProcess(data, port));
    agent = await startAgentProcess(controller.url, 'b-1');
    token = await adminToken(controller.url);
    const done: Job = await ended(controller, token, running.id);
    expect(done.runs[0]).to.include({ status: 'succeeded', stdout: 'kept\n' });
    expect(await agent.stop('SIGTERM')).to.equal(0);
  });
});

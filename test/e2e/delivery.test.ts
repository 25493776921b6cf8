import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Agent, Job } from '../../src/domain/model.js';
import { cliInBackground, execInBackground as startExec, runCli, startDaemon, type Daemon } from '../helpers/cli.js';
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
  startSwarm,
  type ControllerProcess,
} from '../helpers/processes.js';
import { swarmPassword } from '../helpers/swarm.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

/** docs/protocol.md §7 with real processes and real kills: nothing lost, nothing recorded twice. */
describe('delivery guarantees (real processes, real kills)', function () {
  this.timeout(120_000);
  const scope = processScope('ogent-delivery-');
  const { track } = scope;
  const agentsOnline = async (c: ControllerProcess, token: string, n: number) =>
    waitFor(
      async () =>
        (await api<{ agents: Agent[] }>(c.url, token, '/api/v1/agents')).agents.filter((a) => a.status === 'online')
          .length >= n,
      `${n} agents online`,
      30_000,
    );
  const createJob = (c: ControllerProcess, token: string, command: string, target: string[], timeoutMs = 60_000) =>
    api<Job>(c.url, token, '/api/v1/jobs', 'POST', { command, target, timeoutMs });
  const cli = (c: ControllerProcess, args: string[]) =>
    runCli(args, {
      env: {
        OGENT_CONTROLLER: c.url,
        OGENT_USERNAME: 'admin',
        OGENT_PASSWORD: 'admin-password-1',
        XDG_CONFIG_HOME: scope.root,
      },
      timeoutMs: 60_000,
    });

  it('a controller killed with -9 mid-job and restarted records all 50 results exactly once, with their output', async () => {
    const port = await freePort();
    const data = join(scope.root, 'data');
    let controller = track(await controllerProcess(data, port));
    await createAgentUsers(controller.url, 'n', 50);
    track(await startSwarm(controller.url, 'n', 50, join(scope.root, 'agents')));
    let token = await adminToken(controller.url);
    await agentsOnline(controller, token, 50);

    const job = await createJob(controller, token, 'sleep 2; echo ok', ['n-*']);
    expect(job.runs).to.have.length(50);
    await new Promise((r) => setTimeout(r, 1000));
    await controller.stop('SIGKILL');

    controller = track(await controllerProcess(data, port));
    const waited = await cli(controller, ['jobs', 'wait', job.id, '--json']);
    expect(waited.code, waited.stderr).to.equal(0);
    const done = JSON.parse(waited.stdout) as Job;
    expect(done.summary.succeeded).to.equal(50);
    expect(done.runs.map((r) => r.stdout)).to.deep.equal(Array(50).fill('ok\n'));

    // The full output files hold each line once, not twice (no replayed chunk was stored again).
    token = await adminToken(controller.url);
    for (const run of done.runs) {
      const path = `/api/v1/jobs/${job.id}/runs/${run.id}/output?stream=stdout`;
      const text = await (
        await fetch(`${controller.url}${path}`, { headers: { authorization: `Bearer ${token}` } })
      ).text();
      expect(text, run.agent.name).to.equal('ok\n');
    }
  });

  it('an agent killed with -9 mid-run is lost after the grace period; restarted, it runs nothing twice', async () => {
    const port = await freePort();
    const controller = track(await controllerProcess(join(scope.root, 'data'), port, ['--agent-grace', '1s']));
    await createAgentUsers(controller.url, 'k', 1);
    const state = join(scope.root, 'state');
    const agentArgs = ['agent', 'run', '--controller', controller.url, '--name', 'k-1', '--state-dir', state];
    const agentEnv = { OGENT_PASSWORD: swarmPassword('k-1') };
    const agent = track(await startDaemon(agentArgs, /connected/, { env: { ...agentEnv, OGENT_LOG_LEVEL: 'info' } }));
    const token = await adminToken(controller.url);
    await agentsOnline(controller, token, 1);

    const marker = join(scope.root, 'ran');
    const job = await createJob(controller, token, `echo x >> ${marker}; sleep 30`, ['k-1']);
    await waitFor(async () => (await readFile(marker, 'utf8').catch(() => '')) === 'x\n', 'the command to start');
    await agent.stop('SIGKILL');

    const lost = await endedJob(controller.url, token, job.id, 'the run to be lost', 10_000);
    expect(lost.runs[0]?.status).to.equal('lost');
    expect(lost.runs[0]?.error).to.match(/did not come back/);

    // Restarted with its state dir, it reports the run it could not finish; the first verdict stands, nothing re-runs.
    track(await startDaemon(agentArgs, /connected/, { env: { ...agentEnv, OGENT_LOG_LEVEL: 'info' } }));
    await agentsOnline(controller, token, 1);
    const spool = join(state, 'spool.json');
    await waitFor(
      async () => JSON.parse(await readFile(spool, 'utf8')).results.length === 0,
      'the spool to be acknowledged',
    );
    const after = await api<Job>(controller.url, token, `/api/v1/jobs/${job.id}`);
    expect(after.runs[0]?.status).to.equal('lost');
    expect(after.runs[0]?.finishedAt).to.equal(lost.runs[0]?.finishedAt);
    expect(await readFile(marker, 'utf8')).to.equal('x\n');
    spawn('pkill', ['-f', `${marker}; sleep 30`]);
  });

  it('an agent restarted after a crash reports its unfinished run as lost at once, with the reason', async () => {
    const port = await freePort();
    const controller = track(await controllerProcess(join(scope.root, 'data'), port, ['--agent-grace', '10m']));
    await createAgentUsers(controller.url, 'r', 1);
    const state = join(scope.root, 'state');
    const agentArgs = ['agent', 'run', '--controller', controller.url, '--name', 'r-1', '--state-dir', state];
    const env = { OGENT_PASSWORD: swarmPassword('r-1'), OGENT_LOG_LEVEL: 'info' };
    const agent = track(await startDaemon(agentArgs, /connected/, { env }));
    const token = await adminToken(controller.url);
    await agentsOnline(controller, token, 1);
    const marker = join(scope.root, 'started');
    const job = await createJob(controller, token, `touch ${marker}; sleep 20`, ['r-1']);
    await waitFor(async () => (await readFile(marker).catch(() => null)) !== null, 'the command to start');
    await agent.stop('SIGKILL');

    track(await startDaemon(agentArgs, /connected/, { env }));
    const finished = await endedJob(controller.url, token, job.id, 'the restarted agent to report', 15_000);
    expect(finished.runs[0]?.status).to.equal('lost');
    expect(finished.runs[0]?.error).to.match(/agent stopped while the command ran/);
    spawn('pkill', ['-f', `${marker}; sleep 20`]);
  });

  it('agents reconnect after the controller was away longer than a backoff step, and take new jobs', async () => {
    const port = await freePort();
    const data = join(scope.root, 'data');
    let controller = track(await controllerProcess(data, port));
    await createAgentUsers(controller.url, 'b', 5);
    track(await startSwarm(controller.url, 'b', 5));
    let token = await adminToken(controller.url);
    await agentsOnline(controller, token, 5);
    await controller.stop('SIGTERM');
    await new Promise((r) => setTimeout(r, 3000));
    controller = track(await controllerProcess(data, port));
    token = await adminToken(controller.url);
    await agentsOnline(controller, token, 5);
    const res = await cli(controller, ['exec', '-t', 'b-*', '--json', '--', 'echo back']);
    expect(res.code, res.stderr).to.equal(0);
    const job = JSON.parse(res.stdout) as Job;
    expect(job.summary.succeeded).to.equal(5);
  });

  it('a token that expires during a long run does not stop its result, even across a controller restart', async () => {
    const port = await freePort();
    const data = join(scope.root, 'data');
    let controller = track(await controllerProcess(data, port, ['--token-ttl', '2s']));
    await createAgentUsers(controller.url, 't', 1);
    track(await startSwarm(controller.url, 't', 1, join(scope.root, 'agents')));
    let token = await adminToken(controller.url);
    await agentsOnline(controller, token, 1);
    const job = await createJob(controller, token, 'sleep 4; echo finished', ['t-1']);
    await new Promise((r) => setTimeout(r, 2500));
    // The agent's token has expired: a reconnect now must fetch a new one.
    await controller.stop('SIGKILL');
    controller = track(await controllerProcess(data, port, ['--token-ttl', '2s']));
    token = await adminToken(controller.url);
    const done = await endedJob(controller.url, () => adminToken(controller.url), job.id, 'the result', 20_000);
    expect(done.runs[0]?.status).to.equal('succeeded');
    expect(done.runs[0]?.stdout).to.equal('finished\n');
  });

  /** `bin/run.js exec ...` running in the background, its output collected. */
  const execInBackground = (c: ControllerProcess, args: string[]) => {
    const exec = startExec(c.url, ADMIN_PASSWORD, scope.root, args);
    scope.defer(() => exec.kill());
    return exec;
  };

  it('exec follows its job across a controller restart and prints every line exactly once', async () => {
    const port = await freePort();
    const data = join(scope.root, 'data');
    let controller = track(await controllerProcess(data, port));
    await createAgentUsers(controller.url, 'c', 1);
    track(await startSwarm(controller.url, 'c', 1, join(scope.root, 'agents')));
    await agentsOnline(controller, await adminToken(controller.url), 1);
    const exec = execInBackground(controller, [
      '-t',
      'c-1',
      '--',
      'for i in 1 2 3 4 5 6; do echo line-$i; sleep 0.4; done',
    ]);
    await waitFor(() => exec.out().includes('line-2'), 'output before the restart', 30_000);
    await controller.stop('SIGKILL');
    controller = track(await controllerProcess(data, port));
    const code = await exec.exited;
    expect(code, exec.err()).to.equal(0);
    expect(exec.out()).to.equal([1, 2, 3, 4, 5, 6].map((i) => `c-1: line-${i}\n`).join(''));
  });

  it('exec exits 4 and says how to resume when the controller stays away past --patience', async () => {
    const port = await freePort();
    const controller = track(await controllerProcess(join(scope.root, 'data'), port));
    await createAgentUsers(controller.url, 'p', 1);
    track(await startSwarm(controller.url, 'p', 1));
    await agentsOnline(controller, await adminToken(controller.url), 1);
    const exec = execInBackground(controller, ['-t', 'p-1', '--patience', '2s', '--', 'echo started; sleep 20']);
    await waitFor(() => exec.out().includes('started'), 'the job to start');
    await controller.stop('SIGKILL');
    expect(await exec.exited).to.equal(4);
    expect(exec.err()).to.match(/cannot reach the controller .*resume with `ogent jobs wait j[0-9a-z]+`/);
  });

  it('jobs wait reads the stored output again when a read of it breaks, and prints every line once', async () => {
    const port = await freePort();
    const controller = track(await controllerProcess(join(scope.root, 'data'), port));
    await createAgentUsers(controller.url, 'r', 1);
    track(await startSwarm(controller.url, 'r', 1));
    const token = await adminToken(controller.url);
    await agentsOnline(controller, token, 1);
    const gate = join(scope.root, 'read-gate');
    // 30,000 lines (168,894 bytes): more than the job document holds, so a client that attaches reads them from the
    // stored output.
    const job = await api<Job>(controller.url, token, '/api/v1/jobs', 'POST', {
      command: `seq 1 30000; while [ ! -f ${gate} ]; do sleep 0.05; done; echo end`,
      target: ['r-1'],
      timeoutMs: 60_000,
    });
    const storedBytes = async () =>
      (await api<Job>(controller.url, token, `/api/v1/jobs/${job.id}`)).runs[0]?.stdoutBytes;
    await waitFor(async () => ((await storedBytes()) ?? 0) >= 168_894 || undefined, 'the lines stored');
    // The first read of the stored output breaks as the controller going away would break it.
    const proxy = new TcpProxy(port);
    scope.defer(() => proxy.close());
    let reads = 0;
    proxy.onRequest = (line, cut) => {
      if (line.includes('/output?') && ++reads === 1) cut();
    };
    const wait = cliInBackground(await proxy.listen(), ADMIN_PASSWORD, scope.root, ['jobs', 'wait', job.id]);
    scope.defer(() => wait.kill());
    await waitFor(() => wait.out().includes('r-1: 30000\n') || undefined, 'every stored line printed', 30_000);
    await writeFile(gate, '');
    expect(await wait.exited, wait.err()).to.equal(0);
    expect(reads, 'the output read again').to.be.at.least(2);
    const lines = [...Array.from({ length: 30_000 }, (_, i) => String(i + 1)), 'end'];
    expect(wait.out()).to.equal(lines.map((l) => `r-1: ${l}\n`).join(''));
  });

  /** A controller in its own mount namespace with its data dir on a 4 MiB tmpfs, and a way to run commands there. */
  async function smallDiskController(name: string) {
    const port = await freePort();
    const data = join(scope.root, name);
    const script = `mkdir -p ${data} && mount -t tmpfs -o size=4m tmpfs ${data} && exec "$0" "$@"`;
    const child = spawn(
      'unshare',
      [
        '-m',
        'sh',
        '-c',
        script,
        process.execPath,
        'bin/run.js',
        'controller',
        'serve',
        '--port',
        String(port),
        '--data-dir',
        data,
        '--log-level',
        'error',
      ],
      { env: { ...process.env, OGENT_ADMIN_PASSWORD: 'admin-password-1' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    scope.defer(() => child.kill('SIGKILL'));
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const url = (await waitFor(() => /listening on (http:\/\/\S+)/.exec(out)?.[1], 'the controller')) as string;
    const inNamespace = (command: string) =>
      new Promise<void>((resolve) =>
        spawn('nsenter', ['-t', String(child.pid), '-m', '--', 'sh', '-c', command], { stdio: 'ignore' }).on(
          'close',
          () => resolve(),
        ),
      );
    return { url, data, inNamespace, output: () => out };
  }

  it('a full disk: results and output wait in the agent until the controller can store them, then arrive once', async () => {
    // The controller's data dir is on a 4 MiB tmpfs that the test fills up.
    const { url, data, inNamespace } = await smallDiskController('small');
    const controller = { url } as ControllerProcess;
    await createAgentUsers(url, 'f', 1);
    const state = join(scope.root, 'agents');
    track(await startSwarm(url, 'f', 1, state));
    const token = await adminToken(url);
    await agentsOnline(controller, token, 1);

    const job = await createJob(controller, token, 'sleep 1; echo stored-later', ['f-1']);
    await inNamespace(`dd if=/dev/zero of=${data}/fill bs=64k 2>/dev/null; true`);
    const spool = join(state, 'f-1', 'spool.json');
    await waitFor(
      async () => JSON.parse(await readFile(spool, 'utf8').catch(() => '{}')).results?.length === 1,
      'the result in the spool',
      15_000,
    );
    expect((await api<Job>(url, token, `/api/v1/jobs/${job.id}`)).status).to.equal('running');

    await inNamespace(`rm -f ${data}/fill`);
    const done = await endedJob(url, token, job.id, 'the result after space is back', 20_000);
    expect(done.runs[0]?.status).to.equal('succeeded');
    expect(done.runs[0]?.stdout).to.equal('stored-later\n');
    await waitFor(
      async () => JSON.parse(await readFile(spool, 'utf8')).results.length === 0,
      'the spool to be acknowledged',
    );
  });

  it('a disk that fills up in the middle of a chunk: the output is stored exactly once when space is back', async () => {
    const { url, data, inNamespace, output } = await smallDiskController('partial');
    const controller = { url } as ControllerProcess;
    await createAgentUsers(url, 'p', 1);
    track(await startSwarm(url, 'p', 1, join(scope.root, 'partial-agents')));
    const token = await adminToken(url);
    await agentsOnline(controller, token, 1);

    const size = 600_000;
    const job = await createJob(controller, token, `sleep 1; head -c ${size} /dev/zero | tr '\\0' x`, ['p-1']);
    // Full, then 96 KiB free: a 32–64 KB chunk of output is written in part when the space runs out.
    await inNamespace(`dd if=/dev/zero of=${data}/fill bs=64k 2>/dev/null; truncate -s -96K ${data}/fill`);
    await waitFor(() => output().includes('output not stored'), 'a failed output write', 15_000);
    await inNamespace(`rm -f ${data}/fill`);
    const done = await endedJob(url, token, job.id, 'the job after space is back', 30_000);
    const run = done.runs[0] as Job['runs'][0];
    expect(run.status).to.equal('succeeded');
    expect(run.stdoutBytes).to.equal(size);
    const res = await fetch(`${url}/api/v1/jobs/${job.id}/runs/${run.id}/output`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const stored = await res.text();
    expect(stored.length, 'stored output bytes').to.equal(size);
    expect(/^x+$/.test(stored)).to.equal(true);
  });

  it('a corrupt store file stops the controller with a message naming it, and the file is untouched', async () => {
    const data = join(scope.root, 'data');
    const first = await controllerProcess(data, 0);
    await first.stop('SIGTERM');
    const bad = '{"users": [ this is not json';
    await writeFile(join(data, 'users.json'), bad);
    const res = await runCli(['controller', 'serve', '--port', '0', '--data-dir', data]);
    expect(res.code).to.equal(1);
    expect(res.stderr).to.include(join(data, 'users.json'));
    expect(res.stderr).to.match(/corrupt/);
    expect(await readFile(join(data, 'users.json'), 'utf8')).to.equal(bad);
  });

  it('a read-only data dir stops the controller with a message that says so', async () => {
    const data = join(scope.root, 'ro');
    const script = `mkdir -p ${data} && mount -t tmpfs -o ro,size=1m tmpfs ${data} && exec "$0" "$@"`;
    const res = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(
        'unshare',
        [
          '-m',
          'sh',
          '-c',
          script,
          process.execPath,
          'bin/run.js',
          'controller',
          'serve',
          '--port',
          '0',
          '--data-dir',
          data,
        ],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ code, stderr }));
    });
    expect(res.code, res.stderr).to.equal(1);
    expect(res.stderr).to.include(`data dir ${data} is not writable (EROFS: read-only file system)`);
  });
});

export type { Daemon };

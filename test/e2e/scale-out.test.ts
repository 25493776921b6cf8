import { expect } from 'chai';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Agent, Job } from '../../src/domain/model.js';
import { execInBackground, runCli } from '../helpers/cli.js';
import { waitFor } from '../helpers/fixtures.js';
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
import { RedisServer } from '../helpers/redis.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

/** Scale-out with real processes: a controller killed with -9 mid-job; its agents and its job go on elsewhere. */
describe('scale-out failover (real controllers, real Redis, kill -9)', function () {
  this.timeout(120_000);
  let root: string;
  let redis: RedisServer;
  const stops: Array<() => Promise<unknown>> = [];

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'ogent-scale-'));
    redis = await RedisServer.start();
  });
  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => {});
    await redis.stop();
    await rm(root, { recursive: true, force: true });
  });
  const track = <T extends { stop(signal?: NodeJS.Signals): Promise<unknown> }>(d: T): T => {
    stops.push(() => d.stop('SIGKILL'));
    return d;
  };
  const serve = async (name: string) =>
    track(await controllerProcess(join(root, name), await freePort(), ['--redis', redis.url, '--agent-grace', '60s']));
  /** `exec ARGS` against CONTROLLERS (comma-separated), left running; killed after the test. */
  const background = (controllers: string, args: string[]) => {
    const exec = execInBackground(controllers, ADMIN_PASSWORD, root, args);
    stops.push(async () => exec.kill());
    return exec;
  };
  const online = async (c: ControllerProcess, token: string) =>
    (await api<{ agents: Agent[] }>(c.url, token, '/api/v1/agents')).agents.filter((a) => a.status === 'online');

  it('controllers with --redis stop on SIGTERM with exit 0, every time', async () => {
    // Before the fix, 2 of 3 exited 1 with "Connection is closed." (the Socket.IO adapter's unawaited unsubscribe).
    for (let round = 0; round < 3; round++) {
      const a = await serve(`sig-a${round}`);
      const b = await serve(`sig-b${round}`);
      const codes = await Promise.all([a.stop('SIGTERM'), b.stop('SIGTERM')]);
      expect(codes, a.output() + b.output()).to.deep.equal([0, 0]);
      expect(a.output() + b.output()).not.to.include('Connection is closed');
    }
  });

  it('agents of a controller killed mid-job fail over to the other; the job finishes with every result once', async () => {
    const a = await serve('a');
    const b = await serve('b');
    await createAgentUsers(a.url, 'f', 4);
    // Every agent knows both controllers and starts on the first, A.
    track(await startSwarm(`${a.url},${b.url}`, 'f', 4, join(root, 'state')));
    const token = await adminToken(b.url);
    await waitFor(async () => (await online(b, token)).length === 4, 'the agents online, seen from B');

    const gate = join(root, 'gate');
    const ran = join(root, 'ran');
    // Created on A: A owns it and its agents run it; A dies while every run waits for the gate.
    const job = await api<Job>(a.url, token, '/api/v1/jobs', 'POST', {
      command: `echo ran >> ${ran}; echo start; while [ ! -f ${gate} ]; do sleep 0.05; done; echo end`,
      target: ['f-*'],
      timeoutMs: 60_000,
    });
    await waitFor(
      async () => (await readFile(ran, 'utf8').catch(() => '')).split('\n').length === 5,
      'all 4 runs to start',
    );
    await a.stop('SIGKILL');
    await writeFile(gate, '');

    // B takes the job over (A's lease expires); the agents, now on B, report their results there.
    const done = await endedJob(b.url, token, job.id, 'the job to finish on B', 60_000);
    expect(done.status).to.equal('succeeded');
    expect(done.summary).to.include({ total: 4, succeeded: 4 });
    for (const run of done.runs) {
      expect(run.stdout, run.agent.name).to.equal('start\nend\n');
      const out = await fetch(`${b.url}/api/v1/jobs/${job.id}/runs/${run.id}/output?stream=stdout`, {
        headers: { authorization: `Bearer ${token}` },
      });
      // The full output holds each line once: nothing replayed was stored twice.
      expect(await out.text(), run.agent.name).to.equal('start\nend\n');
    }
    // Nothing ran twice, and every agent is back online on B.
    expect(await readFile(ran, 'utf8')).to.equal('ran\n'.repeat(4));
    await waitFor(async () => (await online(b, token)).length === 4, 'the agents online on B');
    // Still serving, to a client given both controllers (A first, dead): it uses B; a new job on the agents that moved.
    const res = await runCli(['exec', '--all', '--json', '--', 'echo again'], {
      env: {
        OGENT_CONTROLLER: `${a.url},${b.url}`,
        OGENT_USERNAME: 'admin',
        OGENT_PASSWORD: ADMIN_PASSWORD,
        XDG_CONFIG_HOME: root,
      },
      timeoutMs: 60_000,
    });
    expect(res.code, res.stderr).to.equal(0);
    const again = JSON.parse(res.stdout) as Job;
    expect(again.summary).to.include({ total: 4, succeeded: 4 });
    expect(again.runs.map((r) => r.stdout)).to.deep.equal(Array(4).fill('again\n'));
  });

  it('exec following a job through a controller killed mid-job goes on through the other, every line once', async () => {
    const a = await serve('ea');
    const b = await serve('eb');
    await createAgentUsers(a.url, 'e', 2);
    track(await startSwarm(`${a.url},${b.url}`, 'e', 2, join(root, 'state')));
    const token = await adminToken(b.url);
    await waitFor(async () => (await online(b, token)).length === 2, 'the agents online, seen from B');
    // The CLI reaches each controller through a proxy, which shows where its live connection is. B's answers are
    // held until exec follows its job on A, so that A is the one it picks.
    const port = (url: string) => Number(new URL(url).port);
    const [proxyA, proxyB] = [new TcpProxy(port(a.url)), new TcpProxy(port(b.url))];
    stops.push(async () => (proxyA.close(), proxyB.close()));
    const [viaA, viaB] = [await proxyA.listen(), await proxyB.listen()];
    proxyB.stall('down');
    const live = (proxy: TcpProxy) =>
      proxy.connections.filter((c) => c.requests.some((r) => r.includes('transport=websocket'))).length;

    const gate = join(root, 'exec-gate');
    const command = `echo one; while [ ! -f ${gate} ]; do sleep 0.05; done; echo two`;
    // Patience far beyond the time B needs: without failing over, exec would wait for A and exit 4.
    const exec = background(`${viaA},${viaB}`, ['-t', 'e-*', '--patience', '40s', '--', command]);
    await waitFor(() => exec.out().includes('e-1: one') && exec.out().includes('e-2: one'), 'both started', 30_000);
    expect([live(proxyA), live(proxyB)], 'exec follows the job on A').to.deep.equal([1, 0]);

    proxyB.release('down');
    await a.stop('SIGKILL');
    await writeFile(gate, '');
    expect(await exec.exited, exec.err()).to.equal(0);
    expect(live(proxyB), 'exec followed the job on B after A was gone').to.be.at.least(1);
    expect(exec.out().split('\n').filter(Boolean).sort()).to.deep.equal([
      'e-1: one',
      'e-1: two',
      'e-2: one',
      'e-2: two',
    ]);
  });

  it('exec whose controllers are all gone past --patience exits 4, naming them all and how to resume', async () => {
    const a = await serve('pa');
    const b = await serve('pb');
    await createAgentUsers(a.url, 'p', 1);
    track(await startSwarm(`${a.url},${b.url}`, 'p', 1, join(root, 'state')));
    await waitFor(async () => (await online(a, await adminToken(a.url))).length === 1, 'the agent online');
    const exec = background(`${a.url},${b.url}`, ['-t', 'p-1', '--patience', '2s', '--', 'echo started; sleep 30']);
    await waitFor(() => exec.out().includes('p-1: started'), 'the run to start', 30_000);
    await Promise.all([a.stop('SIGKILL'), b.stop('SIGKILL')]);
    expect(await exec.exited, exec.err()).to.equal(4);
    expect(exec.err()).to.include(
      `cannot reach any of the controllers (${a.url}, ${b.url}); the job goes on: resume with`,
    );
    expect(exec.err()).to.match(/`ogent jobs wait j[0-9a-z]+`/);
  });
});

import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunningController } from '../../src/controller/index.js';
import type { Job } from '../../src/domain/model.js';
import { request } from '../../src/client/http.js';
import { runCli, startDaemon, type Daemon } from '../helpers/cli.js';
import { ADMIN, runJob } from '../helpers/executor-helpers.js';
import { ADMIN_PASSWORD, Fixtures, waitFor } from '../helpers/fixtures.js';

const mode = async (path: string) => (await stat(path)).mode & 0o777;

/** Where agents keep their state without --state-dir, two agents on one host, and how an agent picks its credential. */
describe('agent state dirs: one per agent, locked while in use (real bin/run.js agents)', function () {
  this.timeout(120_000);
  const fx = new Fixtures();
  let controller: RunningController;
  let root: string;
  let stateHome: string;

  before(async () => {
    controller = await fx.controller();
  });
  beforeEach(async () => {
    root = await fx.tempDir('ogent-state-');
    stateHome = join(root, 'state');
  });
  after(() => fx.cleanup());

  /** The environment of an agent on this test's host: its XDG state home, no credential from the test's shell. */
  const hostEnv = (env: Record<string, string | undefined> = {}) => ({
    XDG_STATE_HOME: stateHome,
    OGENT_USERNAME: undefined,
    OGENT_PASSWORD: undefined,
    OGENT_JOIN_TOKEN: undefined,
    OGENT_STATE_DIR: undefined,
    ...env,
  });
  const agentArgs = (args: string[]) => [
    'agent',
    'run',
    '--controller',
    controller.url,
    '--log-level',
    'info',
    ...args,
  ];

  async function passwordAgent(name: string): Promise<string> {
    const password = `pw-${name}-123456`;
    if (!(await controller.auth.listUsers(ADMIN)).some((u) => u.name === name)) {
      await controller.auth.addUser(ADMIN, name, 'agent', password);
    }
    return password;
  }

  async function start(args: string[], env: Record<string, string | undefined>): Promise<Daemon> {
    const daemon = await startDaemon(agentArgs(args), /"msg":"connected"/, { env: hostEnv(env) });
    fx.defer(() => daemon.stop('SIGKILL').then(() => {}));
    return daemon;
  }

  const online = (name: string) =>
    waitFor(
      async () => (await controller.agents.list()).some((a) => a.name === name && a.status === 'online'),
      `${name} online`,
    );

  async function joinToken(): Promise<string> {
    const res = await request<{ token: string }>(controller.url, '/api/v1/enroll-tokens', {
      method: 'POST',
      token: await fx.adminToken(controller),
      body: {},
    });
    expect(res.status, res.text).to.equal(201);
    return res.body.token;
  }

  it('two agents with different names on one host, without --state-dir: each has its own dir (0700, files 0600)', async () => {
    const [a, b] = ['st-a', 'st-b'];
    await start(['--name', a], { OGENT_PASSWORD: await passwordAgent(a) });
    await start(['--name', b], { OGENT_PASSWORD: await passwordAgent(b) });
    await online(a);
    await online(b);
    for (let i = 0; i < 5; i++) {
      const job: Job = await runJob(controller, { target: [`${a},${b}`], command: `echo ${i}` });
      expect(job.runs.map((r) => r.status).join(), JSON.stringify(job.runs)).to.equal('succeeded,succeeded');
    }
    for (const name of [a, b]) {
      const dir = join(stateHome, 'ogent', 'agents', name);
      expect(await mode(dir), `${dir}`).to.equal(0o700);
      expect(await mode(join(dir, 'spool.json'))).to.equal(0o600);
    }
    expect(existsSync(join(stateHome, 'ogent', 'agent'))).to.equal(false);
  });

  it('a second agent on a state dir in use exits 1 at once, naming the dir and --state-dir', async () => {
    const password = await passwordAgent('st-one');
    await start(['--name', 'st-one'], { OGENT_PASSWORD: password });
    const dir = join(stateHome, 'ogent', 'agents', 'st-one');
    const same = await runCli(agentArgs(['--name', 'st-one']), { env: hostEnv({ OGENT_PASSWORD: password }) });
    expect(same.code, same.stderr).to.equal(1);
    expect(same.stderr).to.include(`state dir ${dir} is in use by another agent (pid `);
    expect(same.stderr).to.include('--state-dir');
    // The same with --state-dir, for an agent of another name.
    const other = await runCli(agentArgs(['--name', 'st-two', '--state-dir', dir]), {
      env: hostEnv({ OGENT_PASSWORD: await passwordAgent('st-two') }),
    });
    expect(other.code, other.stderr).to.equal(1);
    expect(other.stderr).to.include(`state dir ${dir} is in use by another agent`);
  });

  it('two agents started at once on one state dir: one runs, the other exits 1, every round', async () => {
    const password = await passwordAgent('st-race');
    const dir = join(root, 'shared');
    for (let round = 1; round <= 3; round++) {
      // The last round's agent was killed: its lock is stale, and taken over.
      const outcomes = await Promise.allSettled(
        [1, 2].map(() => start(['--name', 'st-race', '--state-dir', dir], { OGENT_PASSWORD: password })),
      );
      const running = outcomes.filter((o) => o.status === 'fulfilled');
      const refused = outcomes.filter((o) => o.status === 'rejected');
      expect(running.length, `round ${round}: ${JSON.stringify(outcomes.map((o) => o.status))}`).to.equal(1);
      expect(String(refused[0]?.reason)).to.match(/exited with 1[\s\S]*is in use by another agent/);
      await running[0]?.value.stop('SIGKILL');
    }
  });

  it("an earlier version's shared dir that holds this agent's credential becomes its own, said in the log", async () => {
    const enrolled = await request<{ name: string; password: string }>(controller.url, '/api/v1/agents/enroll', {
      method: 'POST',
      body: { token: await joinToken(), name: 'st-old' },
    });
    expect(enrolled.status, enrolled.text).to.equal(201);
    const legacy = join(stateHome, 'ogent', 'agent');
    await mkdir(legacy, { recursive: true, mode: 0o700 });
    await writeFile(
      join(legacy, 'credential.json'),
      JSON.stringify({ ...enrolled.body, controller: controller.url, enrolledAt: new Date().toISOString() }),
      { mode: 0o600 },
    );
    await writeFile(join(legacy, 'spool.json'), JSON.stringify({ accepted: [], results: [], done: [] }), {
      mode: 0o600,
    });
    // Started as before: no --name (the enrolled name), no --state-dir.
    const agent = await start([], {});
    await online('st-old');
    const own = join(stateHome, 'ogent', 'agents', 'st-old');
    expect(agent.output()).to.match(/"msg":"moved the agent's state[^"]*"/);
    expect(agent.output()).to.include(`"to":"${own}"`);
    expect(existsSync(legacy)).to.equal(false);
    expect((await readdir(own)).sort()).to.include.members(['credential.json', 'spool.json']);
  });

  it('--join-token enrolls even with OGENT_USERNAME/OGENT_PASSWORD of a user in the environment; 0600 credential', async () => {
    const agent = await start(['--join-token', await joinToken(), '--name', 'st-join'], {
      OGENT_USERNAME: 'admin',
      OGENT_PASSWORD: ADMIN_PASSWORD,
    });
    await online('st-join');
    expect(agent.output()).to.include('"msg":"enrolled"');
    const dir = join(stateHome, 'ogent', 'agents', 'st-join');
    expect(await mode(dir)).to.equal(0o700);
    expect(await mode(join(dir, 'credential.json'))).to.equal(0o600);
  });
});

import { expect } from 'chai';
import { chmod, lstat, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Agent, Job } from '../../src/domain/model.js';
import { LIMITS } from '../../src/protocol/events.js';
import { request } from '../../src/client/http.js';
import { startDaemon } from '../helpers/cli.js';
import { waitFor } from '../helpers/fixtures.js';
import { processScope } from '../helpers/scope.js';
import {
  adminToken,
  alive,
  api,
  controllerProcess,
  createAgentUsers,
  endedJob,
  freePort,
  type ControllerProcess,
} from '../helpers/processes.js';
import { swarmPassword } from '../helpers/swarm.js';

/** What an operator or a local user could do to a running controller and its agents (real `bin/run.js` processes). */
describe('hostile input against real processes', function () {
  this.timeout(90_000);
  const scope = processScope('ogent-hostile-');
  const { track } = scope;

  /** A controller and one connected agent process, `h-1`. */
  const fleet = async (data = join(scope.root, 'data')) => {
    const controller = track(await controllerProcess(data, await freePort()));
    await createAgentUsers(controller.url, 'h', 1);
    const agent = track(
      await startDaemon(
        ['agent', 'run', '--controller', controller.url, '--name', 'h-1', '--state-dir', join(scope.root, 'h-1')],
        /"msg":"connected"/,
        { env: { OGENT_PASSWORD: swarmPassword('h-1'), OGENT_LOG_LEVEL: 'info' } },
      ),
    );
    const token = await adminToken(controller.url);
    await online(controller, token);
    return { controller, agent, token };
  };
  const online = (c: ControllerProcess, token: string) =>
    waitFor(
      async () =>
        (await api<{ agents: Agent[] }>(c.url, token, '/api/v1/agents')).agents.some(
          (a) => a.name === 'h-1' && a.status === 'online',
        ),
      'h-1 online',
      30_000,
    );
  const run = async (c: ControllerProcess, token: string, body: Record<string, unknown>) =>
    endedJob(c.url, token, (await api<Job>(c.url, token, '/api/v1/jobs', 'POST', { target: ['h-1'], ...body })).id);

  it('a 1,024-character selector built to backtrack: /healthz answers meanwhile, the job gets 422', async () => {
    const { controller, token } = await fleet();
    const hostile = `${'*?'.repeat(LIMITS.selectorChars / 2 - 1)}*Z`;
    const created = request(controller.url, '/api/v1/jobs', {
      method: 'POST',
      token,
      body: { command: 'true', target: [hostile] },
    });
    // Generous: the event loop was frozen for good (18 s for the first 29 characters alone).
    const health = await fetch(`${controller.url}/healthz`, { signal: AbortSignal.timeout(2000) });
    expect(health.status).to.equal(200);
    const res = await created;
    expect(res.status).to.equal(422);
    expect(res.body).to.include({ error: 'no_agents_matched' });
    await online(controller, token);
  });

  it('a job whose directory is a file: the run fails with the reason, the agent goes on', async () => {
    const { controller, agent, token } = await fleet();
    const file = join(scope.root, 'a-file');
    await writeFile(file, 'x');
    const failed = await run(controller, token, { command: 'true', cwd: file });
    expect(failed.runs[0]).to.include({ status: 'failed', exitCode: null });
    expect(failed.runs[0]?.error).to.match(/not a directory/);
    expect(await alive(agent.child.pid ?? 0)).to.equal(true);
    const next = await run(controller, token, { command: 'echo still here' });
    expect(next.runs[0]).to.include({ status: 'succeeded', stdout: 'still here\n' });
  });

  it('a data dir made 0755 with 0644 files: every dir ends 0700 and every file 0600, and the log says so', async () => {
    const data = join(scope.root, 'data');
    await mkdir(join(data, 'jobs'), { recursive: true });
    await mkdir(join(data, 'output', 'old'), { recursive: true });
    const before: Record<string, unknown> = {
      'users.json': { users: [] },
      'agents.json': { agents: [] },
      'enrollments.json': { enrollments: [] },
      'output/old/r.stdout': 'x',
      'notes.txt': 'left by hand',
    };
    for (const [name, content] of Object.entries(before)) {
      const path = join(data, name);
      await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content));
      await chmod(path, 0o644);
    }
    for (const dir of [data, join(data, 'jobs'), join(data, 'output'), join(data, 'output', 'old')]) {
      await chmod(dir, 0o755);
    }

    const { controller, token } = await fleet(data);
    const ran = await run(controller, token, { command: 'echo out; echo err >&2', env: { SECRET: 's3cret' } });
    expect(ran.runs[0]).to.include({ status: 'succeeded', stdout: 'out\n', stderr: 'err\n' });

    const modes = await modesUnder(data);
    expect(Object.keys(modes)).to.include.members([
      '.',
      'users.json',
      'enrollments.json',
      'secret.key',
      'audit.log',
      'controller.lock',
      `jobs/${ran.id}.json`,
      `output/${ran.id}/${ran.runs[0]?.id}.stdout`,
      `output/${ran.id}/${ran.runs[0]?.id}.stderr`,
    ]);
    for (const [path, { dir, mode }] of Object.entries(modes)) {
      expect(mode.toString(8), path).to.equal(dir ? '700' : '600');
    }
    const line = controller
      .output()
      .split('\n')
      .find((l) => l.includes('narrowed'));
    expect(line, controller.output()).to.be.a('string');
    for (const name of ['users.json 644→600', 'notes.txt', 'output/old 755→700', '". 755→700"'])
      expect(line).to.include(name);
  });
});

/** Every path under `root` (itself as `.`) with its permission bits. */
async function modesUnder(root: string): Promise<Record<string, { dir: boolean; mode: number }>> {
  const out: Record<string, { dir: boolean; mode: number }> = {};
  const walk = async (rel: string) => {
    const stat = await lstat(join(root, rel));
    out[rel] = { dir: stat.isDirectory(), mode: stat.mode & 0o777 };
    if (stat.isDirectory())
      for (const name of await readdir(join(root, rel))) await walk(rel === '.' ? name : `${rel}/${name}`);
  };
  await walk('.');
  return out;
}

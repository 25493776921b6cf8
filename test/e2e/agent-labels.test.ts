import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Agent } from '../../src/domain/model.js';
import { runCli, startDaemon, type Daemon } from '../helpers/cli.js';
import { waitFor } from '../helpers/fixtures.js';

/** `agents enroll-token --label`, `agents label`, `agents accept` and the held change, with real processes. */
describe('agent labels from the command line', function () {
  this.timeout(90_000);
  let root: string;
  let controller: Daemon & { match: RegExpMatchArray };
  let env: Record<string, string>;
  const daemons: Daemon[] = [];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'ogent-labels-'));
    controller = await startDaemon(
      ['controller', 'serve', '--port', '0', '--data-dir', join(root, 'data')],
      /listening on (http:\/\/\S+)/,
      { env: { OGENT_ADMIN_PASSWORD: 'admin-password-1' } },
    );
    env = {
      OGENT_CONTROLLER: controller.match[1] as string,
      OGENT_USERNAME: 'admin',
      OGENT_PASSWORD: 'admin-password-1',
      XDG_CONFIG_HOME: root,
    };
  });
  after(async () => {
    for (const daemon of daemons) await daemon.stop();
    await controller.stop();
    await rm(root, { recursive: true, force: true });
  });

  const agentRun = async (labels: string[]) => {
    const args = ['agent', 'run', '--name', 'lab-1', '--state-dir', join(root, 'state')];
    const daemon = await startDaemon([...args, ...labels.flatMap((l) => ['--label', l])], /connected/, {
      env: { OGENT_CONTROLLER: env.OGENT_CONTROLLER, OGENT_JOIN_TOKEN: token, OGENT_LOG_LEVEL: 'info' },
    });
    daemons.push(daemon);
    return daemon;
  };
  const show = async () => {
    const res = await runCli(['agents', 'show', 'lab-1', '--json', '--runs', '0'], { env });
    expect(res.code, res.stderr).to.equal(0);
    return JSON.parse(res.stdout) as Agent;
  };
  let token = '';

  it('a join token label wins; a restart with other labels is held, shown, and routes after agents accept', async () => {
    const issued = await runCli(['agents', 'enroll-token', '--label', 'role=web', '--json'], { env });
    expect(issued.code, issued.stderr).to.equal(0);
    const parsed = JSON.parse(issued.stdout) as { token: string; labels: Record<string, string> };
    expect(parsed.labels).to.deep.equal({ role: 'web' });
    token = parsed.token;
    const first = await agentRun(['role=db', 'dc=par1']);
    expect((await show()).labels).to.deep.equal({ role: 'web', dc: 'par1' });
    expect((await show()).pending).to.equal(undefined);

    await first.stop();
    const second = await agentRun(['role=db', 'dc=lon1']);
    await waitFor(() => /holds this agent's new labels or facts/.test(second.output()), 'the agent to warn');
    const held = await show();
    expect(held.labels).to.deep.equal({ role: 'web', dc: 'par1' });
    expect(held.pending?.labels).to.deep.equal({ role: 'db', dc: 'lon1' });
    const listed = await runCli(['agents'], { env });
    expect(listed.stdout).to.match(/lab-1 .*role=web,dc=par1 \*/);
    expect(listed.stdout).to.match(/ogent agents accept NAME/);
    const plain = await runCli(['agents', 'show', 'lab-1', '--runs', '0'], { env });
    expect(plain.stdout).to.match(/^pending: +labels role=db,dc=lon1 \(since .*`ogent agents accept lab-1`/m);
    expect((await runCli(['exec', '-t', 'dc=lon1', '--json', '--', 'true'], { env })).code).to.equal(5);

    const accepted = await runCli(['agents', 'accept', 'lab-1'], { env });
    expect(accepted.code, accepted.stderr).to.equal(0);
    expect((await show()).labels).to.deep.equal({ role: 'web', dc: 'lon1' });
    const ran = await runCli(['exec', '-t', 'dc=lon1', '--no-tui', '--', 'echo routed'], { env });
    expect(ran.code, ran.stderr).to.equal(0);
    expect(ran.stdout).to.equal('lab-1: routed\n');
    expect((await runCli(['agents', 'accept', 'lab-1'], { env })).code).to.equal(1);
  });

  it('agents label sets and removes labels; bad words are usage errors (exit 2)', async () => {
    const set = await runCli(['agents', 'label', 'lab-1', 'tier=gold', 'dc-'], { env });
    expect(set.code, set.stderr).to.equal(0);
    expect(set.stderr).to.equal('agent lab-1: labels role=web,tier=gold\n');
    expect((await runCli(['exec', '-t', 'tier=gold', '--no-tui', '--', 'true'], { env })).code).to.equal(0);
    for (const bad of [['lab-1'], ['lab-1', 'bad key=x'], ['lab-1', 'role'], ['lab-1', 'k=a,b']]) {
      const res = await runCli(['agents', 'label', ...bad], { env });
      expect(res.code, `${bad.join(' ')}: ${res.stderr}`).to.equal(2);
      expect(res.stderr).to.match(/^ogent: /);
    }
    expect((await runCli(['agents', 'enroll-token', '--label', 'nope'], { env })).code).to.equal(2);
    const audit = await runCli(['audit', '--json'], { env });
    const actions = (JSON.parse(audit.stdout) as { entries: Array<{ action: string }> }).entries.map((e) => e.action);
    expect(actions).to.include.members(['agent_accept', 'agent_label']);
  });
});

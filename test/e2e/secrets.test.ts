import { expect } from 'chai';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Job } from '../../src/domain/model.js';
import { runCli, startDaemon } from '../helpers/cli.js';
import { ADMIN_PASSWORD, controllerProcess } from '../helpers/processes.js';
import { processScope } from '../helpers/scope.js';

/** Secrets a process may hold in its environment; none of them may reach a command it runs. */
const SECRETS = {
  OGENT_ADMIN_PASSWORD: ADMIN_PASSWORD,
  OGENT_AI_API_KEY: 'sk-Secret-ai-key-5521',
  OGENT_TOKEN: 'tok-Secret-bearer-8812',
};
const AGENT_PASSWORD = 'pw-Secret-agent-7731';
const REDIS_URL = 'redis://:redis-Secret-pw-4410@127.0.0.1:1/0';

/** Every command an agent runs, by every executor (for ssh: the local ssh client), as real processes. */
describe("secrets stay with the agent: no command sees the agent's or the controller's (real processes)", function () {
  this.timeout(120_000);
  const scope = processScope('ogent-secrets-');
  let url: string;
  let script: string;
  let fakeSshDir: string;

  const admin = (args: string[], input?: string) =>
    runCli(args, {
      env: {
        OGENT_CONTROLLER: url,
        OGENT_USERNAME: 'admin',
        OGENT_PASSWORD: ADMIN_PASSWORD,
        OGENT_TOKEN: undefined,
        XDG_CONFIG_HOME: join(scope.root, 'cli'),
      },
      input,
      timeoutMs: 30_000,
    });

  /** The environment a command sees, one `NAME=value` line each, from the one run of `exec ARGS`. */
  const commandEnv = async (args: string[]) => {
    const res = await admin(['exec', '--json', ...args]);
    expect(res.code, `exec ${args.join(' ')}: ${res.stderr}`).to.equal(0);
    const run = (JSON.parse(res.stdout) as Job).runs[0];
    return run?.stdout ?? '';
  };

  /** What each executor's process gets on `agent`: shell, exec, script, and the ssh client. */
  const everyExecutor = async (agent: string) => ({
    shell: await commandEnv(['-t', agent, '--', 'env']),
    exec: await commandEnv(['--executor', 'exec', '-t', agent, '--', 'env']),
    script: await commandEnv(['-t', agent, '--script', script]),
    ssh: await commandEnv(['--executor', 'ssh', '--via', agent, '--ssh-target', 'nobody@127.0.0.1', '--', 'true']),
  });

  const expectNoSecret = (envs: Record<string, string>, secrets: Record<string, string>) => {
    for (const [executor, env] of Object.entries(envs)) {
      expect(env, `${executor}: the command's environment was printed`).to.match(/^SITE_MARK=par1$/m);
      for (const [name, value] of Object.entries(secrets)) {
        expect(env, `${executor} sees ${name}`).not.to.match(new RegExp(`^${name}=`, 'm'));
        expect(env, `${executor} sees the value of ${name}`).not.to.include(value);
      }
    }
  };

  beforeEach(async () => {
    fakeSshDir = join(scope.root, 'fake-ssh');
    await mkdir(fakeSshDir);
    // The ssh executor's local client, replaced by one that prints the environment it was given.
    await writeFile(join(fakeSshDir, 'ssh'), '#!/bin/sh\nenv\n');
    await chmod(join(fakeSshDir, 'ssh'), 0o755);
    script = join(scope.root, 'env.sh');
    await writeFile(script, '#!/bin/sh\nenv\n');
    const controller = scope.track(
      await controllerProcess(join(scope.root, 'data'), 0, ['--local-agent', '--local-agent-name', 'local-1'], {
        ...SECRETS,
        OGENT_PASSWORD: 'pw-Secret-someone-6643',
        PATH: `${fakeSshDir}:${process.env.PATH ?? ''}`,
        SITE_MARK: 'par1',
      }),
    );
    url = controller.url;
  });

  const startAgent = (args: string[], env: Record<string, string>) =>
    startDaemon(['agent', 'run', '--controller', url, '--log-level', 'info', ...args], /"msg":"connected"/, {
      env: {
        OGENT_USERNAME: undefined,
        OGENT_PASSWORD: undefined,
        OGENT_JOIN_TOKEN: undefined,
        XDG_STATE_HOME: join(scope.root, 'state'),
        PATH: `${fakeSshDir}:${process.env.PATH ?? ''}`,
        SITE_MARK: 'par1',
        ...SECRETS,
        OGENT_REDIS_URL: REDIS_URL,
        ...env,
      },
    }).then((daemon) => scope.track(daemon));

  it("the controller's local agent: no admin password, AI key, token or password", async () => {
    expectNoSecret(await everyExecutor('local-1'), { ...SECRETS, OGENT_PASSWORD: 'pw-Secret-someone-6643' });
  });

  it('an agent with a password (OGENT_PASSWORD): none of its secrets', async () => {
    const added = await admin(['users', 'add', 'pw-1', '--role', 'agent', '--password-stdin'], AGENT_PASSWORD);
    expect(added.code, added.stderr).to.equal(0);
    await startAgent(['--name', 'pw-1'], { OGENT_USERNAME: 'pw-1', OGENT_PASSWORD: AGENT_PASSWORD });
    expectNoSecret(await everyExecutor('pw-1'), {
      ...SECRETS,
      OGENT_PASSWORD: AGENT_PASSWORD,
      OGENT_REDIS_URL: REDIS_URL,
    });
  });

  it('an enrolled agent (OGENT_JOIN_TOKEN): neither the join token nor its other secrets', async () => {
    const issued = await admin(['agents', 'enroll-token', '--json']);
    expect(issued.code, issued.stderr).to.equal(0);
    const joinToken = (JSON.parse(issued.stdout) as { token: string }).token;
    await startAgent(['--name', 'en-1', '--state-dir', join(scope.root, 'en-1')], { OGENT_JOIN_TOKEN: joinToken });
    expectNoSecret(await everyExecutor('en-1'), {
      ...SECRETS,
      OGENT_JOIN_TOKEN: joinToken,
      OGENT_REDIS_URL: REDIS_URL,
    });
  });

  it("a job's own --env may still set one of these names", async () => {
    const env = await commandEnv(['-t', 'local-1', '--env', 'OGENT_TOKEN=the-job-own', '--', 'env']);
    expect(env).to.match(/^OGENT_TOKEN=the-job-own$/m);
  });
});

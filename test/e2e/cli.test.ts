import { expect } from 'chai';
import { SignJWT } from 'jose';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMMAND_MODULES } from '../../src/command-modules.js';
import type { Agent, Job } from '../../src/domain/model.js';
import { runCli, startDaemon, type CliResult, type Daemon } from '../helpers/cli.js';
import { waitFor } from '../helpers/fixtures.js';
import { freePort } from '../helpers/processes.js';

const ADMIN_PASSWORD = 'e2e-admin-password';
const AGENTS = [
  { name: 'e2e-1', labels: ['role=web', 'idx=1'] },
  { name: 'e2e-2', labels: ['role=web', 'idx=2'] },
];
const agentPassword = (name: string) => `pw-${name}-e2e-123`;

/**
 * The end-to-end contract: one `controller serve`, two `agent run` processes, and the real `bin/run.js`
 * for every command, each with its own config and state dirs.
 */
describe('ogent end to end (real processes)', function () {
  this.timeout(60_000);
  let root: string;
  let dataDir: string;
  let url: string;
  const daemons: Daemon[] = [];

  /** Fresh XDG dirs, so no CLI sees another's `ogent login`. */
  const isolated = async () => {
    const dir = await mkdtemp(join(root, 'home-'));
    return {
      XDG_CONFIG_HOME: join(dir, 'config'),
      XDG_STATE_HOME: join(dir, 'state'),
      XDG_DATA_HOME: join(dir, 'data'),
    };
  };
  const noCredentials = {
    OGENT_CONTROLLER: undefined,
    OGENT_USERNAME: undefined,
    OGENT_PASSWORD: undefined,
    OGENT_TOKEN: undefined,
  };
  /** `ogent ARGS` as admin (OGENT_USERNAME/OGENT_PASSWORD), unless `env` says otherwise. */
  const ogent = async (
    args: string[],
    options: { env?: Record<string, string | undefined>; input?: string } = {},
  ): Promise<CliResult> =>
    runCli(args, {
      env: {
        ...noCredentials,
        ...(await isolated()),
        OGENT_CONTROLLER: url,
        OGENT_USERNAME: 'admin',
        OGENT_PASSWORD: ADMIN_PASSWORD,
        ...options.env,
      },
      input: options.input,
      timeoutMs: 30_000,
    });
  const token = async (username = 'admin', password = ADMIN_PASSWORD) => {
    const res = await fetch(`${url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    expect(res.status, `login ${username}`).to.equal(200);
    return ((await res.json()) as { access_token: string }).access_token;
  };
  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${await token()}` } });
    expect(res.status, path).to.equal(200);
    return (await res.json()) as T;
  };
  const jobCount = async () => (await api<{ jobs: Job[] }>('/api/v1/jobs?limit=1000')).jobs.length;
  const lines = (text: string) => text.split('\n').filter((l) => l !== '');
  const json = <T>(res: CliResult): T => {
    expect(res.code, `exit code\nstdout: ${res.stdout}\nstderr: ${res.stderr}`).to.be.a('number');
    return JSON.parse(res.stdout) as T;
  };

  before(async function () {
    this.timeout(60_000);
    root = await mkdtemp(join(tmpdir(), 'ogent-e2e-'));
    dataDir = join(root, 'controller');
    const controller = await startDaemon(
      ['controller', 'serve', '--port', '0', '--data-dir', dataDir, '--log-level', 'warn'],
      /ogent controller listening on (http:\/\/\S+)\n/,
      { env: { ...noCredentials, ...(await isolated()), OGENT_ADMIN_PASSWORD: ADMIN_PASSWORD } },
    );
    daemons.push(controller);
    url = controller.match[1] as string;
    for (const agent of AGENTS) {
      const added = await ogent(['users', 'add', agent.name, '--role', 'agent', '--password-stdin'], {
        input: `${agentPassword(agent.name)}\n`,
      });
      expect(added.code, added.stderr).to.equal(0);
      expect(added.stdout).to.equal(`added ${agent.name} (agent)\n`);
    }
    const started = await Promise.all(
      AGENTS.map(async (agent) =>
        startDaemon(
          [
            'agent',
            'run',
            '--controller',
            url,
            '--name',
            agent.name,
            ...agent.labels.flatMap((l) => ['--label', l]),
            '--log-level',
            'info',
          ],
          /"msg":"connected"/,
          { env: { ...noCredentials, ...(await isolated()), OGENT_PASSWORD: agentPassword(agent.name) } },
        ),
      ),
    );
    daemons.push(...started);
  });

  after(async () => {
    for (const daemon of daemons.reverse()) await daemon.stop('SIGTERM');
    await rm(root, { recursive: true, force: true });
  });

  describe('exec', () => {
    it('prints each line prefixed with its agent on stdout, stderr lines and a summary on stderr, exit 0', async () => {
      const res = await ogent(['exec', '-t', 'role=web', '--', 'echo hello; echo "to stderr" >&2']);
      expect(res.code, res.stderr).to.equal(0);
      expect(lines(res.stdout).sort()).to.deep.equal(['e2e-1: hello', 'e2e-2: hello']);
      const err = lines(res.stderr);
      expect(err.filter((l) => l.endsWith('to stderr')).sort()).to.deep.equal(['e2e-1: to stderr', 'e2e-2: to stderr']);
      expect(err.at(-1)).to.match(/^job j\S+ succeeded: 2 succeeded \(2 agents, [\d.]+m?s\)$/);
      // not a terminal: no colours, no cursor movement
      expect(res.stdout + res.stderr).to.not.include('\u001b');
    });

    it('--json prints one job document (§5.5) and nothing else on stdout', async () => {
      const res = await ogent(['exec', '-t', 'e2e-*', '-t', '!idx=2', '--json', '--', 'echo one; echo two >&2']);
      expect(res.code, res.stderr).to.equal(0);
      const job = json<Job>(res);
      expect(job).to.include({ command: 'echo one; echo two >&2', executor: 'shell', status: 'succeeded' });
      expect(job).to.include({ createdBy: 'admin' });
      expect(job.target).to.deep.equal(['e2e-*', '!idx=2']);
      expect(job.runs).to.have.length(1);
      expect(job.runs[0]).to.include({
        status: 'succeeded',
        exitCode: 0,
        signal: null,
        stdout: 'one\n',
        stderr: 'two\n',
      });
      expect(job.runs[0]?.agent.name).to.equal('e2e-1');
      expect(job.runs[0]?.durationMs).to.be.a('number');
      expect(job.summary).to.deep.equal({
        total: 1,
        succeeded: 1,
        failed: 0,
        timed_out: 0,
        cancelled: 0,
        rejected: 0,
        lost: 0,
        unreachable: 0,
        skipped: 0,
      });
      expect(res.stderr).to.equal('');
    });

    it('--json of a failed job larger than a pipe buffer arrives whole before the exit code (exit 1)', async () => {
      // 64 KiB of stdout and of stderr per run on every agent: a document of over 200 KB through a pipe.
      const res = await ogent([
        'exec',
        '--all',
        '--json',
        '--',
        'head -c 70000 /dev/zero | tr "\\0" o; head -c 70000 /dev/zero | tr "\\0" e >&2; exit 3',
      ]);
      expect(res.code, res.stderr).to.equal(1);
      expect(res.stdout.length).to.be.greaterThan(200_000);
      const job = json<Job>(res);
      expect(job.status).to.equal('failed');
      expect(job.runs.map((r) => r.exitCode)).to.deep.equal(job.runs.map(() => 3));
      expect(job.runs.every((r) => r.stdoutTruncated && r.stderrTruncated)).to.equal(true);
    });

    it('--stream prints NDJSON events as they happen, ending with job_finished', async () => {
      const res = await ogent(['exec', '--all', '--stream', '--', 'echo a; echo b']);
      expect(res.code, res.stderr).to.equal(0);
      const events = lines(res.stdout).map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(events.at(-1)?.event).to.equal('job_finished');
      expect((events.at(-1)?.job as Job).status).to.equal('succeeded');
      for (const agent of AGENTS.map((a) => a.name)) {
        const mine = events.filter((e) => e.agent === agent).map((e) => e.event);
        expect(mine[0], agent).to.equal('run_started');
        expect(mine.at(-1), agent).to.equal('run_finished');
        const output = events
          .filter((e) => e.agent === agent && e.event === 'output')
          .map((e) => e.data)
          .join('');
        expect(output).to.equal('a\nb\n');
      }
      for (const e of events) expect(Number.isNaN(Date.parse(e.time as string))).to.equal(false);
    });

    it('exits 1 when a command fails, and says how', async () => {
      const res = await ogent(['exec', '-t', 'e2e-1', '--', 'false']);
      expect(res.code).to.equal(1);
      expect(res.stdout).to.equal('');
      expect(res.stderr).to.include('e2e-1: [exit 1]');
      expect(lines(res.stderr).at(-1)).to.match(/^job j\S+ failed: 1 failed \(1 agent, /);
      const json1 = await ogent(['exec', '--all', '--json', '--', 'test "$(hostname)" = nope']);
      expect(json1.code).to.equal(1);
      expect(json<Job>(json1).summary).to.include({ total: 2, failed: 2 });
    });

    it('--timeout 1s stops `sleep 10`: timed_out, exit 1', async () => {
      const res = await ogent(['exec', '-t', 'e2e-2', '--timeout', '1s', '--json', '--', 'sleep 10']);
      expect(res.code, res.stderr).to.equal(1);
      const job = json<Job>(res);
      expect(job.status).to.equal('failed');
      expect(job.runs[0]).to.include({ status: 'timed_out', signal: 'SIGTERM', exitCode: null });
      const plain = await ogent(['exec', '-t', 'e2e-2', '--timeout', '1s', '--', 'sleep 10']);
      expect(plain.code).to.equal(1);
      expect(plain.stderr).to.match(/e2e-2: \[timed out, .*timed out after 1000 ms\]/);
      expect(lines(plain.stderr).at(-1)).to.match(/failed: 1 timed out/);
    });

    it('--async prints the job id at once; `jobs wait` follows it to the end with its exit code', async () => {
      const started = await ogent(['exec', '--all', '--async', '--', 'sleep 1; echo later']);
      expect(started.code, started.stderr).to.equal(0);
      const id = started.stdout.trim();
      expect(id).to.match(/^j[0-9a-z]+$/);
      const waited = await ogent(['jobs', 'wait', id]);
      expect(waited.code, waited.stderr).to.equal(0);
      expect(lines(waited.stdout).sort()).to.deep.equal(['e2e-1: later', 'e2e-2: later']);
      expect(lines(waited.stderr).at(-1)).to.match(new RegExp(`^job ${id} succeeded`));

      const asJson = await ogent(['exec', '-t', 'e2e-1', '--async', '--json', '--', 'exit 4']);
      const { id: failing } = json<{ id: string }>(asJson);
      expect(Object.keys(json(asJson))).to.deep.equal(['id']);
      const waitedJson = await ogent(['jobs', 'wait', failing, '--json']);
      expect(waitedJson.code).to.equal(1);
      expect(json<Job>(waitedJson).runs[0]).to.include({ status: 'failed', exitCode: 4 });
    });

    it('`jobs cancel` while `sleep 30` runs: the runs are cancelled and `jobs wait` exits 1', async () => {
      const started = await ogent(['exec', '-t', 'role=web', '--async', '--', 'sleep 30']);
      const id = started.stdout.trim();
      const waiting = ogent(['jobs', 'wait', id, '--json']);
      await waitFor(
        async () => (await api<Job>(`/api/v1/jobs/${id}`)).runs.every((r) => r.status === 'running'),
        'both runs to be running',
      );
      const cancelled = await ogent(['jobs', 'cancel', id]);
      expect(cancelled.code, cancelled.stderr).to.equal(0);
      expect(cancelled.stderr).to.match(new RegExp(`cancelling job ${id}|job ${id} is cancelled`));
      const waited = await waiting;
      expect(waited.code, waited.stderr).to.equal(1);
      const job = json<Job>(waited);
      expect(job.status).to.equal('cancelled');
      expect(job.runs.map((r) => r.status)).to.deep.equal(['cancelled', 'cancelled']);
      expect(job.summary.cancelled).to.equal(2);
      const again = await ogent(['jobs', 'wait', id]);
      expect(again.code).to.equal(1);
      expect(lines(again.stderr).at(-1)).to.match(new RegExp(`^job ${id} cancelled: 2 cancelled`));
    });
  });

  describe('jobs and agents', () => {
    let id: string;
    before(async () => {
      const res = await ogent(['exec', '--all', '--json', '--', 'printf "first\\nlast"; echo warn >&2']);
      id = json<Job>(res).id;
    });

    it('`jobs list` shows it, newest first, as a table and as JSON', async () => {
      const plain = await ogent(['jobs', 'list']);
      expect(plain.code, plain.stderr).to.equal(0);
      const rows = lines(plain.stdout);
      expect(rows[0]).to.match(/^ID\s+STATUS\s+CREATED\s+BY\s+RUNS\s+COMMAND$/);
      expect(rows[1]).to.match(new RegExp(`^${id}\\s+succeeded\\s+.*admin\\s+2 succeeded\\s+printf`));
      const asJson = json<{ jobs: Job[] }>(await ogent(['jobs', 'list', '--limit', '1', '--json']));
      expect(asJson.jobs.map((j) => j.id)).to.deep.equal([id]);
      // Briefs: what the table shows, never runs or output.
      expect(asJson.jobs[0]).to.include({ status: 'succeeded', createdBy: 'admin' }).and.not.to.have.property('runs');
      expect(asJson.jobs[0]?.summary).to.include({ total: 2, succeeded: 2 });
    });

    it('`jobs show` gives env values to the creator and an admin, and `***` to a viewer (table and --json)', async () => {
      const res = await ogent(['exec', '--all', '--json', '--env', 'DB_PASSWORD=hunter2-e2e', '--', 'true']);
      const envId = json<Job>(res).id;
      await ogent(['users', 'add', 'vic', '--role', 'viewer', '--password-stdin'], { input: 'vic-password-1\n' });
      const asVic = { env: { OGENT_USERNAME: 'vic', OGENT_PASSWORD: 'vic-password-1' } };
      const table = await ogent(['jobs', 'show', envId], asVic);
      expect(table.code, table.stderr).to.equal(0);
      expect(table.stdout).to.match(/^env: +DB_PASSWORD=\*\*\*$/m);
      const shown = await ogent(['jobs', 'show', envId, '--json'], asVic);
      expect(shown.stdout).not.to.include('hunter2');
      expect(json<Job>(shown).env).to.deep.equal({ DB_PASSWORD: '***' });
      expect((await ogent(['jobs', 'show', envId])).stdout).to.match(/^env: +DB_PASSWORD=hunter2-e2e$/m);
    });

    it('`agents enroll-token` says the id; `list` shows the token; `revoke` by its first 8 characters ends it', async () => {
      const issued = await ogent(['agents', 'enroll-token', '--uses', '2']);
      expect(issued.code, issued.stderr).to.equal(0);
      const tokenId = /^join token (\S+) for 2 agents/.exec(issued.stderr)?.[1] ?? '';
      expect(tokenId).to.match(/^[0-9a-f-]{36}$/);
      expect(issued.stderr).to.include(`to revoke it: ogent agents enroll-token revoke ${tokenId.slice(0, 8)}`);
      const plain = await ogent(['agents', 'enroll-token', 'list']);
      expect(plain.code, plain.stderr).to.equal(0);
      expect(lines(plain.stdout)[0]).to.match(/^ID\s+STATE\s+USES LEFT\s+EXPIRES\s+CREATED\s+BY$/);
      expect(plain.stdout).to.match(new RegExp(`${tokenId}\\s+active\\s+2\\s+\\S+\\s+\\S+\\s+admin`));
      expect(plain.stdout).not.to.include(issued.stdout.trim());
      const revoked = await ogent(['agents', 'enroll-token', 'revoke', tokenId.slice(0, 8)]);
      expect(revoked.code, revoked.stderr).to.equal(0);
      expect(revoked.stderr).to.equal(`join token ${tokenId} revoked (2 uses were left)\n`);
      const listed = json<{ tokens: Array<{ id: string }> }>(await ogent(['agents', 'enroll-token', 'list', '--json']));
      expect(listed.tokens.map((t) => t.id)).not.to.include(tokenId);
      const again = await ogent(['agents', 'enroll-token', 'revoke', tokenId]);
      expect(again.code).to.equal(1);
      expect(again.stderr).to.include(`no join token with id "${tokenId}"`);
    });

    it('`jobs show` prints the job and its runs, and the job document with --json', async () => {
      const plain = await ogent(['jobs', 'show', id]);
      expect(plain.code, plain.stderr).to.equal(0);
      expect(plain.stdout).to.include(`job ${id}  succeeded`);
      expect(plain.stdout).to.match(/e2e-1\s+succeeded\s+0\s+\S+\s+last/);
      const doc = json<Job>(await ogent(['jobs', 'show', id, '--json']));
      expect(doc).to.deep.equal(await api<Job>(`/api/v1/jobs/${id}`));
      const missing = await ogent(['jobs', 'show', 'j0doesnotexist']);
      expect(missing.code).to.equal(1);
      expect(missing.stderr).to.include('no job "j0doesnotexist"');
    });

    it('`jobs wait` on a finished job replays its output as complete prefixed lines', async () => {
      const res = await ogent(['jobs', 'wait', id]);
      expect(res.code, res.stderr).to.equal(0);
      const out = lines(res.stdout);
      for (const agent of ['e2e-1', 'e2e-2']) {
        expect(out.filter((l) => l.startsWith(`${agent}:`))).to.deep.equal([`${agent}: first`, `${agent}: last`]);
      }
      expect(
        lines(res.stderr)
          .filter((l) => l.endsWith(': warn'))
          .sort(),
      ).to.deep.equal(['e2e-1: warn', 'e2e-2: warn']);
    });

    it('`jobs logs` prints every run’s full output; --agent gives one agent’s raw output', async () => {
      const all = await ogent(['jobs', 'logs', id]);
      expect(all.code, all.stderr).to.equal(0);
      expect(all.stdout).to.equal(
        ['e2e-1', 'e2e-2'].map((n) => `==> ${n} (succeeded, exit 0) <==\nfirst\nlast\n--- stderr ---\nwarn\n`).join(''),
      );
      const one = await ogent(['jobs', 'logs', id, '--agent', 'e2e-2']);
      expect(one.stdout).to.equal('first\nlast');
      expect(one.stderr).to.equal('warn\n');
      const none = await ogent(['jobs', 'logs', id, '--agent', 'nobody']);
      expect(none.code).to.equal(1);
    });

    it('`agents --json` prints {agents: [...]} as the API does; `agents` a table', async () => {
      const res = await ogent(['agents', '--json']);
      expect(res.code, res.stderr).to.equal(0);
      const { agents } = json<{ agents: Agent[] }>(res);
      expect(agents.map((a) => [a.name, a.status, a.labels]).sort()).to.deep.equal([
        ['e2e-1', 'online', { role: 'web', idx: '1' }],
        ['e2e-2', 'online', { role: 'web', idx: '2' }],
      ]);
      for (const a of agents) {
        expect(a).to.have.keys('id', 'name', 'status', 'labels', 'info', 'lastSeen');
        expect(a.info?.name).to.equal(a.name);
        expect(a.info?.executors).to.include('shell');
      }
      expect(res.stdout).to.equal(`${JSON.stringify(await api('/api/v1/agents'), null, 2)}\n`);
      const table = await ogent(['agents', '-t', 'idx=2']);
      const rows = lines(table.stdout);
      expect(rows[0]).to.match(/^NAME\s+STATUS\s+LABELS\s+PLATFORM\s+LAST SEEN$/);
      expect(rows.slice(1)).to.have.length(1);
      expect(rows[1]).to.match(/^e2e-2\s+online\s+role=web,idx=2\s+linux\/\S+\s+now$/);
      const show = await ogent(['agents', 'show', 'e2e-1']);
      expect(show.code, show.stderr).to.equal(0);
      expect(show.stdout).to.match(/^name:\s+e2e-1$/m);
      expect(show.stdout).to.match(/^status:\s+online$/m);
      expect(show.stdout).to.match(/^labels:\s+role=web,idx=1$/m);
    });
  });

  describe('help and version', () => {
    it('every command has --help with examples; --version prints the version', async () => {
      const manifest = JSON.parse(await readFile(new URL('../../oclif.manifest.json', import.meta.url), 'utf8')) as {
        commands: Record<string, { examples?: unknown[] }>;
      };
      const ids = Object.keys(manifest.commands);
      expect(ids).to.include.members(['exec', 'agent:run', 'controller:serve', 'jobs:wait', 'users:passwd']);
      // `ogent help --help` is oclif's own top-level help
      for (const id of ids.filter((i) => i !== 'help')) {
        expect(manifest.commands[id]?.examples?.length, id).to.be.above(0);
        const res = await runCli([...id.split(':'), '--help'], { env: noCredentials });
        expect(res.code, id).to.equal(0);
        expect(res.stdout, id).to.include('USAGE');
        expect(res.stdout, id).to.include('EXAMPLES');
      }
      // The manifest is what oclif reads flags and help from (the command table holds stand-ins): it must have been
      // written from the real command classes.
      const flagged = manifest as unknown as { commands: Record<string, { flags: object; args: object }> };
      for (const [id, load] of Object.entries(COMMAND_MODULES)) {
        const { default: command } = await load();
        expect(Object.keys(flagged.commands[id]?.flags ?? {}), id).to.have.members(
          Object.keys({ ...command.baseFlags, ...command.flags }),
        );
        expect(Object.keys(flagged.commands[id]?.args ?? {}), id).to.have.members(Object.keys(command.args ?? {}));
      }
      const version = await runCli(['--version']);
      expect(version.code).to.equal(0);
      expect(version.stdout).to.match(/^ogent\/\d+\.\d+\.\d+ /);
    });
  });

  it('the command table imports no command: `ogent jobs list` loads the jobs list command and no other', async () => {
    const dir = await mkdtemp(join(root, 'loaded-'));
    const log = join(dir, 'loaded.txt');
    // A module hook (on its own thread) that writes down every module file loaded.
    const hook = `import { appendFileSync } from 'node:fs';
      export async function load(url, context, next) { appendFileSync(${JSON.stringify(log)}, url + '\\n'); return next(url, context); }`;
    const register = `import { register } from 'node:module';
      register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}));`;
    try {
      const res = await runCli(['jobs', 'list'], {
        env: {
          ...noCredentials,
          ...(await isolated()),
          NODE_OPTIONS: `--import=data:text/javascript,${encodeURIComponent(register)}`,
        },
      });
      // Not logged in, and no controller at the default URL: the controller is checked first, as `ogent doctor` does.
      expect(res.code, res.stderr).to.equal(4);
      expect(res.stderr).to.include('cannot reach the controller');
      const commands = (await readFile(log, 'utf8')).split('\n').filter((url) => url.includes('/lib/commands/'));
      expect(commands.map((url) => url.replace(/^.*\/lib\/commands\//, ''))).to.have.members([
        'base.js',
        'jobs/list.js',
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  describe('login, logout and users', () => {
    it('`login` keeps a token in a 0600 file the other commands use; `logout` forgets it', async () => {
      const home = await isolated();
      const env = { ...noCredentials, ...home };
      const login = await runCli(['login', '--controller', url, '--username', 'admin', '--password-stdin'], {
        env,
        input: `${ADMIN_PASSWORD}\n`,
      });
      expect(login.code, login.stderr).to.equal(0);
      expect(login.stderr).to.match(new RegExp(`^logged in to ${url} as admin`));
      const file = join(home.XDG_CONFIG_HOME, 'ogent', 'credentials.json');
      expect((await stat(file)).mode & 0o777).to.equal(0o600);
      const stored = JSON.parse(await readFile(file, 'utf8')) as Record<string, string>;
      expect(stored).to.include({ controller: url, username: 'admin' });
      expect(await readFile(file, 'utf8')).to.not.include(ADMIN_PASSWORD);

      const used = await runCli(['exec', '--all', '--json', '--', 'true'], { env });
      expect(used.code, used.stderr).to.equal(0);
      expect(json<Job>(used).createdBy).to.equal('admin');

      const logout = await runCli(['logout'], { env });
      expect(logout.code).to.equal(0);
      expect(logout.stderr).to.equal('logged out\n');
      await stat(file).then(
        () => expect.fail('the credentials file is still there'),
        (err: NodeJS.ErrnoException) => expect(err.code).to.equal('ENOENT'),
      );
      const after = await runCli(['agents'], { env: { ...env, OGENT_CONTROLLER: url } });
      expect(after.code).to.equal(3);
      expect(after.stderr).to.include('not logged in');
      expect(after.stderr).to.include('ogent login');
    });

    it('`users add/list/passwd/remove`; tokens from before `passwd` are refused', async () => {
      const added = await ogent(['users', 'add', 'olga', '--role', 'operator', '--password-stdin'], {
        input: 'olga-password-1\n',
      });
      expect(added.code, added.stderr).to.equal(0);
      const generated = await ogent(['users', 'add', 'gene', '--role', 'viewer', '--json']);
      const gene = json<{ name: string; role: string; password: string }>(generated);
      expect(gene).to.include({ name: 'gene', role: 'viewer' });
      expect(gene.password).to.be.a('string').with.length.above(11);
      await token('gene', gene.password);

      const listed = json<{ users: Array<{ name: string; role: string }> }>(await ogent(['users', 'list', '--json']));
      expect(listed.users.map((u) => `${u.name}:${u.role}`)).to.include.members([
        'admin:admin',
        'olga:operator',
        'gene:viewer',
        'e2e-1:agent',
      ]);
      const table = await ogent(['users', 'list']);
      expect(lines(table.stdout)[0]).to.match(/^NAME\s+ROLE\s+CREATED$/);

      const old = await token('olga', 'olga-password-1');
      const asOlga = { OGENT_USERNAME: undefined, OGENT_PASSWORD: undefined, OGENT_TOKEN: old };
      expect((await ogent(['exec', '--all', '--', 'true'], { env: asOlga })).code).to.equal(0);
      const passwd = await ogent(['users', 'passwd', 'olga', '--password-stdin'], { input: 'olga-password-2\n' });
      expect(passwd.code, passwd.stderr).to.equal(0);
      expect(passwd.stdout).to.equal('password of olga changed\n');
      const refused = await ogent(['exec', '--all', '--', 'true'], { env: asOlga });
      expect(refused.code).to.equal(3);
      expect(refused.stderr).to.match(/password changed/);
      const renewed = await ogent(['exec', '--all', '--', 'true'], {
        env: { OGENT_USERNAME: 'olga', OGENT_PASSWORD: 'olga-password-2' },
      });
      expect(renewed.code, renewed.stderr).to.equal(0);

      const removed = await ogent(['users', 'remove', 'olga']);
      expect(removed.code, removed.stderr).to.equal(0);
      const names = json<{ users: Array<{ name: string }> }>(await ogent(['users', 'list', '--json'])).users.map(
        (u) => u.name,
      );
      expect(names).to.not.include('olga');
      const gone = await ogent(['agents'], { env: { OGENT_USERNAME: 'olga', OGENT_PASSWORD: 'olga-password-2' } });
      expect(gone.code).to.equal(3);
      const notAdmin = await ogent(['users', 'list'], {
        env: { OGENT_USERNAME: 'gene', OGENT_PASSWORD: gene.password },
      });
      expect(notAdmin.code).to.equal(3);
    });
  });

  describe('bad input: a clear message and the exit code of §5.6', () => {
    /** A token the controller's own secret signs, expired a minute ago. */
    const expiredToken = async () => {
      const secret = Buffer.from((await readFile(join(dataDir, 'secret.key'), 'utf8')).trim(), 'base64');
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ role: 'admin', ver: 0 })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('admin')
        .setIssuer('ogent')
        .setAudience('ogent')
        .setIssuedAt(now - 120)
        .setExpirationTime(now - 60)
        .setJti('e2e')
        .sign(secret);
    };
    const exec = ['exec', '--all', '--', 'true'];

    it('a wrong password: 3', async () => {
      await ogent(['users', 'add', 'wendy', '--role', 'operator', '--password-stdin'], { input: 'wendy-password\n' });
      const res = await ogent(exec, { env: { OGENT_USERNAME: 'wendy', OGENT_PASSWORD: 'not-her-password' } });
      expect(res.code).to.equal(3);
      expect(res.stdout).to.equal('');
      expect(res.stderr).to.match(/^ogent: login refused: invalid user name or password\n/);
      const login = await ogent(['login', '--username', 'wendy', '--password-stdin'], { input: 'nope-nope\n' });
      expect(login.code).to.equal(3);
    });

    it('an expired or forged token in OGENT_TOKEN: 3', async () => {
      const expired = await ogent(exec, { env: { OGENT_USERNAME: undefined, OGENT_TOKEN: await expiredToken() } });
      expect(expired.code).to.equal(3);
      expect(expired.stderr).to.match(/token expired/);
      const valid = await token();
      const forged = `${valid.slice(0, valid.lastIndexOf('.'))}.${'A'.repeat(43)}`;
      for (const t of [forged, 'not-a-token']) {
        const res = await ogent(exec, { env: { OGENT_USERNAME: undefined, OGENT_TOKEN: t } });
        expect(res.code, t).to.equal(3);
        expect(res.stderr).to.match(/token invalid|refused/);
      }
      const list = await ogent(['jobs', 'list'], { env: { OGENT_USERNAME: undefined, OGENT_TOKEN: forged } });
      expect(list.code).to.equal(3);
    });

    it('a viewer trying exec: 3, and nothing runs', async () => {
      await ogent(['users', 'add', 'vera', '--role', 'viewer', '--password-stdin'], { input: 'vera-password\n' });
      const before = await jobCount();
      const res = await ogent(exec, { env: { OGENT_USERNAME: 'vera', OGENT_PASSWORD: 'vera-password' } });
      expect(res.code).to.equal(3);
      expect(res.stderr).to.match(/permission refused: role "viewer" cannot run jobs/);
      const cancel = await ogent(['jobs', 'cancel', 'j0x'], {
        env: { OGENT_USERNAME: 'vera', OGENT_PASSWORD: 'vera-password' },
      });
      expect(cancel.code).to.equal(3);
      expect(await jobCount()).to.equal(before);
    });

    it('the controller down: 4', async () => {
      const down = `http://127.0.0.1:${await freePort()}`;
      for (const args of [exec, ['jobs', 'list'], ['agents']]) {
        const res = await ogent(args, { env: { OGENT_CONTROLLER: down } });
        expect(res.code, args.join(' ')).to.equal(4);
        expect(res.stderr).to.include(`cannot reach the controller at ${down}`);
      }
    });

    it('a selector matching nothing: 5, and no job is created', async () => {
      const before = await jobCount();
      for (const target of ['nope-*', 'role=db', 'e2e-1,e2e-2']) {
        const args = target === 'e2e-1,e2e-2' ? ['-t', target, '-t', '!role=web'] : ['-t', target];
        const res = await ogent(['exec', ...args, '--', 'true']);
        expect(res.code, target).to.equal(5);
        expect(res.stderr).to.match(/no agent matched/);
        expect(res.stderr).to.include('ogent agents');
      }
      expect(await jobCount()).to.equal(before);
    });

    it('a bad selector, a bad duration or an unknown flag: 2, and no job is created', async () => {
      const before = await jobCount();
      const cases: Array<[string[], RegExp]> = [
        [['exec', '-t', '!', '--', 'true'], /empty term/],
        [['exec', '-t', 'role=', '--', 'true'], /invalid label value/],
        [['exec', '-t', 'web 1', '--', 'true'], /invalid term/],
        [['exec', '--all', '--timeout', '5x', '--', 'true'], /invalid --timeout "5x"/],
        [['exec', '--all', '--timeout', '0s', '--', 'true'], /invalid --timeout "0s": must be more than zero/],
        [['exec', '--all', '--bogus', '--', 'true'], /bogus/],
        [['exec', '--all', '-t', 'e2e-1', '--', 'true'], /cannot be combined/],
        [['exec', '--', 'true'], /no target/],
        [['exec', '--all', '--json', '--stream', '--', 'true'], /cannot also be provided|--stream/],
        [['agents', '-t', '=x'], /invalid label key/],
        [['jobs', 'list', '--limit', 'many'], /limit/],
      ];
      for (const [args, message] of cases) {
        const res = await ogent(args);
        expect(res.code, args.join(' ')).to.equal(2);
        expect(res.stdout, args.join(' ')).to.equal('');
        expect(res.stderr, args.join(' ')).to.match(message);
      }
      expect(await jobCount()).to.equal(before);
    });

    it('a second controller on the same data dir: exits 1 naming the one that holds it', async () => {
      const res = await runCli(['controller', 'serve', '--port', '0', '--data-dir', dataDir], {
        env: { ...noCredentials, ...(await isolated()) },
      });
      expect(res.code).to.equal(1);
      expect(res.stderr).to.match(/data dir .* is in use by another controller \(pid \d+\)/);
      // the first one is unharmed
      expect((await fetch(`${url}/healthz`)).status).to.equal(200);
    });
  });
});

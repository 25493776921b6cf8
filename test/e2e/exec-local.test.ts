import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultAgentName } from '../../src/agent/facts.js';
import type { Job } from '../../src/domain/model.js';
import { BIN, runCli } from '../helpers/cli.js';
import { waitFor } from '../helpers/fixtures.js';
import { quote, Terminal } from '../helpers/tmux.js';

/** Every file under `dir`, relative to it. */
async function files(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

/** The processes of the command `sleep SECONDS` (the shell running it, the sleep), not the exec naming it. */
function sleeping(seconds: string): string[] {
  const res = spawnSync('pgrep', ['-af', `^(/bin/sh -c )?sleep ${seconds.replace('.', '\\.')}$`], { encoding: 'utf8' });
  return res.stdout.split('\n').filter((line) => line.trim() !== '');
}

describe('exec --local: a controller and an agent inside the exec process (real bin/run.js)', function () {
  this.timeout(60_000);
  let root: string;
  let home: string;
  let tmp: string;
  const host = defaultAgentName();

  /**
   * A clean environment: a new HOME, no XDG dirs, no OGENT_* variable (no stored or given credentials), and a TMPDIR
   * of its own, to see the throw-away store go.
   */
  const cleanEnv = (extra: Record<string, string> = {}) => {
    const env: Record<string, string | undefined> = {};
    for (const key of Object.keys(process.env)) {
      if (key.startsWith('OGENT_') || key.startsWith('XDG_')) env[key] = undefined;
    }
    return { ...env, HOME: home, TMPDIR: tmp, ...extra };
  };
  const local = (args: string[], extra: Record<string, string> = {}) =>
    runCli(['exec', '--local', ...args], { env: cleanEnv(extra), timeoutMs: 30_000 });

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'ogent-local-test-'));
    home = join(root, 'home');
    tmp = join(root, 'tmp');
    await Promise.all([mkdir(home), mkdir(tmp)]);
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('runs `echo hi` on one run named after the host, reads and writes no credentials, leaves nothing behind', async () => {
    // A controller named in the environment is not used (nor refused): --local needs none.
    const res = await local(['--json', '--', 'echo hi'], { OGENT_CONTROLLER: 'http://127.0.0.1:1' });
    expect(res.code, res.stderr).to.equal(0);
    const job = JSON.parse(res.stdout) as Job;
    expect(job.status).to.equal('succeeded');
    expect(job.runs).to.have.length(1);
    expect(job.runs[0]?.agent.name).to.equal(host);
    expect(job.runs[0]?.stdout).to.equal('hi\n');
    expect(res.stderr).to.equal('');
    expect(await files(home), 'nothing written under HOME').to.deep.equal([]);
    expect(await readdir(tmp), 'the throw-away store is removed').to.deep.equal([]);
  });

  it('exits 1 when the command fails, with the plain lines of exec', async () => {
    const res = await local(['--', 'echo out; echo err >&2; false']);
    expect(res.code).to.equal(1);
    expect(res.stdout).to.equal(`${host}: out\n`);
    expect(res.stderr).to.include(`${host}: err\n`);
    expect(res.stderr).to.include(`${host}: [exit 1]`);
    expect(res.stderr).to.match(/1 failed/);
  });

  it('--timeout ends the run timed_out (exit 1) and kills the command: no sleep is left', async () => {
    const marker = `5.${process.pid}1`;
    const res = await local(['--timeout', '1s', '--json', '--', `sleep ${marker}`]);
    expect(res.code, res.stderr).to.equal(1);
    const job = JSON.parse(res.stdout) as Job;
    expect(job.runs[0]?.status).to.equal('timed_out');
    expect(sleeping(marker)).to.deep.equal([]);
    expect(await readdir(tmp)).to.deep.equal([]);
  });

  it('--stream prints the NDJSON events of exec', async () => {
    const res = await local(['--stream', '--', 'echo streamed']);
    expect(res.code, res.stderr).to.equal(0);
    const events = res.stdout
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { event: string }).event);
    expect(events).to.include.members(['run_started', 'output', 'run_finished', 'job_finished']);
  });

  it('SIGTERM cancels the run, kills its command, and exec exits 1 leaving no process and no store', async () => {
    const marker = `30.${process.pid}2`;
    const child = spawn(process.execPath, [BIN, 'exec', '--local', '--', `sleep ${marker}`], {
      env: { ...process.env, ...cleanEnv() } as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await waitFor(() => sleeping(marker).length > 0, 'the command to start');
    child.kill('SIGTERM');
    expect(await exited, stderr).to.equal(1);
    expect(stderr).to.match(/cancelled/);
    expect(sleeping(marker)).to.deep.equal([]);
    expect(await readdir(tmp)).to.deep.equal([]);
  });

  it("applies agent run's --deny: the run is rejected with the reason (exit 1)", async () => {
    const res = await local(['--deny', '^rm ', '--json', '--', 'rm -rf /nothing-here']);
    expect(res.code, res.stderr).to.equal(1);
    const run = (JSON.parse(res.stdout) as Job).runs[0];
    expect(run?.status).to.equal('rejected');
    expect(run?.error).to.equal(`refused by the agent's policy: matches --deny "^rm "`);
  });

  it('a --run-as user that does not exist stops it at start (exit 1), before anything runs', async () => {
    const res = await local(['--run-as', 'no-such-user-ogent', '--', 'true']);
    expect(res.code).to.equal(1);
    expect(res.stderr).to.include('no-such-user-ogent');
  });

  it('--data-dir keeps the store: a second run finds the agent and the first job', async () => {
    const data = join(root, 'data');
    const first = await local(['--data-dir', data, '--json', '--', 'echo one']);
    expect(first.code, first.stderr).to.equal(0);
    const second = await local(['--data-dir', data, '--json', '--', 'echo two']);
    expect(second.code, second.stderr).to.equal(0);
    expect((JSON.parse(second.stdout) as Job).runs[0]?.agent.name).to.equal(host);
    const stored = await files(data);
    const firstId = (JSON.parse(first.stdout) as Job).id;
    expect(
      stored.some((f) => f.includes(firstId)),
      stored.join(', '),
    ).to.equal(true);
  });

  it('a plain exec loads neither the controller nor the agent; --local loads them', async () => {
    const hooks = join(root, 'hooks.mjs');
    await writeFile(
      hooks,
      'export async function load(url, context, next) {\n' +
        '  if (/\\/lib\\/(controller|agent)\\//.test(url)) process.stderr.write(`LOADED ${url}\\n`);\n' +
        '  return next(url, context);\n}\n',
    );
    const register = join(root, 'register.mjs');
    await writeFile(
      register,
      `import { register } from 'node:module';\nregister(${JSON.stringify(`file://${hooks}`)});\n`,
    );
    const loaded = (args: string[]) => {
      const res = spawnSync(process.execPath, ['--import', register, BIN, ...args], {
        env: { ...process.env, ...cleanEnv() } as NodeJS.ProcessEnv,
        encoding: 'utf8',
      });
      return res.stderr.split('\n').filter((line) => line.startsWith('LOADED '));
    };
    // Nothing listens on port 1: the plain exec exits 4 having loaded all it would load.
    expect(loaded(['exec', '--controller', 'http://127.0.0.1:1', '-t', 'x', '--', 'true'])).to.deep.equal([]);
    const local = loaded(['exec', '--local', '--', 'true']);
    expect(local.some((line) => line.endsWith('/lib/controller/embedded.js'))).to.equal(true);
    expect(local.some((line) => line.endsWith('/lib/agent/index.js'))).to.equal(true);
  });

  describe('refusals (exit 2, nothing started)', () => {
    const cases: Array<[string[], RegExp]> = [
      [['-t', 'x'], /--local cannot be combined with -t: it runs on this host only/],
      [['--all'], /--local cannot be combined with --all/],
      [['--controller', 'http://127.0.0.1:8600'], /--local cannot be combined with --controller/],
      [['--async'], /--local cannot be combined with --async/],
      [['--deliver-within', '1m'], /--local cannot be combined with --deliver-within/],
      [['--ai'], /--local cannot be combined with --ai/],
      [['--executor', 'ssh'], /--local cannot be combined with --executor ssh/],
      [['--deny', '('], /invalid/i],
    ];
    for (const [args, message] of cases) {
      it(`exec --local ${args.join(' ')}`, async () => {
        const res = await local([...args, '--', 'true']);
        expect(res.code, res.stderr).to.equal(2);
        expect(res.stderr).to.match(message);
        expect(await readdir(tmp)).to.deep.equal([]);
      });
    }

    it('--deny, --policy, --run-as and --data-dir without --local', async () => {
      for (const flag of [
        ['--deny', 'x'],
        ['--policy', 'p'],
        ['--run-as', 'u'],
        ['--data-dir', 'd'],
      ]) {
        const res = await runCli(['exec', '-t', 'x', ...flag, '--', 'true'], { env: cleanEnv() });
        expect(res.code, res.stderr).to.equal(2);
        expect(res.stderr).to.include(`${flag[0]} goes with --local`);
      }
    });
  });

  describe('on a terminal (tmux)', () => {
    let terminal: Terminal;
    before(() => Terminal.check());
    beforeEach(() => {
      terminal = new Terminal(`ogent-local-${process.pid}`);
    });
    afterEach(() => terminal.kill());

    /** `exec --local ARGS` typed at a terminal, in the clean environment (colours allowed, not CI). */
    const atTerminal = (args: string[]) => {
      const env = Object.entries(cleanEnv())
        .filter((entry): entry is [string, string] => entry[1] !== undefined)
        .map(([k, v]) => `${k}=${quote(v)}`);
      const unset = Object.keys(process.env)
        .filter((k) => k.startsWith('OGENT_') || k.startsWith('XDG_') || ['CI', 'NO_COLOR'].includes(k))
        .map((k) => `-u ${k}`);
      return terminal.open(
        `env ${unset.join(' ')} ${env.join(' ')} ${quote(process.execPath)} ${quote(BIN)} exec --local ${args.map(quote).join(' ')}`,
      );
    };

    it('the live view shows the run and its output, and stays after the job', async () => {
      const window = await atTerminal(['--', 'echo hello-local; sleep 1; echo bye-local']);
      await window.until(
        (s) => new RegExp(`${host} +running .*hello-local`).test(s),
        'the running row with its last line',
      );
      expect(await window.exitCode()).to.equal(0);
      const screen = await window.screen();
      expect(screen).to.match(new RegExp(`✔ ${host} `));
      expect(screen).to.include('bye-local');
      expect(screen).to.match(/succeeded/);
    });

    it('detaching (q) ends the job with exec: its run is cancelled, said so, exit 1, no process left', async () => {
      const marker = `30.${process.pid}3`;
      const window = await atTerminal(['--', `echo started; sleep ${marker}`]);
      await window.until((s) => new RegExp(`${host} +running .*started`).test(s), 'the running row');
      await window.keys('q');
      expect(await window.exitCode()).to.equal(1);
      expect(await window.screen()).to.include(
        'ogent: --local: the run still going was cancelled: the job ends with exec',
      );
      expect(sleeping(marker)).to.deep.equal([]);
      expect(await readdir(tmp)).to.deep.equal([]);
    });
  });
});

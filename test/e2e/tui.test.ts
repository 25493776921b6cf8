import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BIN, runCli, startDaemon, type Daemon } from '../helpers/cli.js';
import { quote, Terminal } from '../helpers/tmux.js';

const run = promisify(execFile);
const ADMIN_PASSWORD = 'admin-password-tui';
const AGENTS = [
  { name: 'tui-1', exit: 0 },
  { name: 'tui-2', exit: 3 },
  { name: 'tui-3', exit: 0 },
];
const SPINNER = '[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]';
/** Each agent greets, waits for the gate file, says done and exits with its own code (its env: TUI_AGENT, TUI_EXIT). */
const COMMAND =
  'echo "hello from $TUI_AGENT"; while [ ! -e "$GATE" ]; do sleep 0.1; done; echo "done $TUI_AGENT"; exit $TUI_EXIT';
// eslint-disable-next-line no-control-regex
const COLOUR = /\u001B\[[0-9;]*(?:3[0-7]|9[0-7]|38;[25];[0-9;]+)m/;

describe('the live view in a real terminal (tmux, a real controller and three agents)', function () {
  this.timeout(120_000);
  let root: string;
  let url: string;
  let terminal: Terminal;
  const daemons: Daemon[] = [];
  let gates = 0;

  const client = () => ({
    OGENT_CONTROLLER: url,
    OGENT_USERNAME: 'admin',
    OGENT_PASSWORD: ADMIN_PASSWORD,
    XDG_CONFIG_HOME: join(root, 'config'),
  });
  /** A shell command line running `ogent ARGS` as a user at a terminal would (not CI, colours unless NO_COLOR). */
  const ogent = (args: string[], env: Record<string, string> = {}) => {
    const vars = Object.entries({ ...client(), ...env }).map(([k, v]) => `${k}=${quote(v)}`);
    return `env -u CI -u NO_COLOR -u FORCE_COLOR -u COLUMNS -u LINES ${vars.join(' ')} ${quote(process.execPath)} ${quote(BIN)} ${args.map(quote).join(' ')}`;
  };
  const gate = () => join(root, `gate-${++gates}`);
  const execArgs = (gatePath: string) => ['exec', '-t', 'tui-*', '--env', `GATE=${gatePath}`, '--', COMMAND];
  const runningRows = (s: string) =>
    AGENTS.every((a) => new RegExp(`${SPINNER} ${a.name} +running .*hello from ${a.name}`).test(s));

  before(async () => {
    await run('tmux', ['-V']).catch(() => {
      throw new Error('tmux is missing: install it (scripts/setup, or apt-get install tmux)');
    });
    root = await mkdtemp(join(tmpdir(), 'ogent-tui-'));
    terminal = new Terminal(`ogent-tui-${process.pid}`);
    const controller = await startDaemon(
      ['controller', 'serve', '--port', '0', '--data-dir', join(root, 'data'), '--log-level', 'warn'],
      /listening on (http:\/\/\S+)/,
      { env: { OGENT_ADMIN_PASSWORD: ADMIN_PASSWORD } },
    );
    daemons.push(controller);
    url = controller.match[1] as string;
    for (const agent of AGENTS) {
      const password = `pw-${agent.name}-123456`;
      const added = await runCli(['users', 'add', agent.name, '--role', 'agent', '--password-stdin'], {
        env: client(),
        input: password,
      });
      expect(added.code, added.stderr).to.equal(0);
      daemons.push(
        await startDaemon(
          ['agent', 'run', '--controller', url, '--name', agent.name, '--state-dir', join(root, agent.name)],
          /"msg":"connected"/,
          {
            env: {
              OGENT_USERNAME: undefined,
              OGENT_PASSWORD: password,
              TUI_AGENT: agent.name,
              TUI_EXIT: String(agent.exit),
            },
          },
        ),
      );
    }
  });

  after(async () => {
    await terminal?.kill();
    for (const daemon of daemons.reverse()) await daemon.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('exec shows every agent live, then leaves the final summary on screen and exits 1 (a run failed)', async () => {
    const g = gate();
    const window = await terminal.open(ogent(execArgs(g)));
    const live = await window.until(runningRows, 'three running rows with their output');
    expect(live).to.match(/^job j\w+ · -t 'tui-\*' · running · /m);
    expect(live).to.include('$ echo "hello from $TUI_AGENT"');
    expect(live).to.include('0/3 done · 0 succeeded · 0 failed · 3 running · 0 queued');
    expect(live).to.match(/^── tui-1 · running · enter: widen ─+$/m);
    expect(live).to.include('↑↓/jk select · enter widen · c cancel job · q detach');
    expect(await window.screen(true), 'colours on a terminal without NO_COLOR').to.match(COLOUR);

    await window.keys('j');
    await window.until(
      (s) => /^── tui-2 · running/m.test(s) && new RegExp(`^› ${SPINNER} tui-2`, 'm').test(s),
      'tui-2 selected',
    );

    await writeFile(g, '');
    expect(await window.exitCode()).to.equal(1);
    const end = await window.screen();
    expect(end).to.match(/^job (j\w+) · -t 'tui-\*' · failed · /m);
    expect(end).to.include('3/3 done · 2 succeeded · 1 failed · 0 running · 0 queued');
    expect(end).to.match(/^✖ tui-2 +exit 3 +\S+ +done tui-2$/m);
    expect(end).to.match(/^✔ tui-1 +exit 0 +\S+ +done tui-1$/m);
    expect(end).to.match(/^✔ tui-3 +exit 0 +\S+ +done tui-3$/m);
    expect(end).to.match(/^job j\w+ failed: 2 succeeded, 1 failed \(3 agents, \S+\)$/m);
    expect(end).to.not.include('q detach');
  });

  it('c asks to confirm, then cancels the job: every run cancelled, exit 1; no colour with NO_COLOR', async () => {
    const window = await terminal.open(ogent(execArgs(gate()), { NO_COLOR: '1' }));
    await window.until(runningRows, 'three running rows');
    expect(await window.screen(true), 'NO_COLOR: no escape sequence on screen').to.not.include('\u001B[');
    await window.keys('c');
    await window.until(
      (s) => /cancel job j\w+\? y: cancel it · n: keep watching · ctrl-c: detach/.test(s),
      'the question',
    );
    await window.keys('y');
    expect(await window.exitCode()).to.equal(1);
    const end = await window.screen();
    for (const agent of AGENTS) expect(end).to.match(new RegExp(`^✖ ${agent.name} +cancelled`, 'm'));
    expect(end).to.match(/^job j\w+ cancelled: 3 cancelled \(3 agents, \S+\)$/m);
  });

  it('q detaches and leaves the job running; `jobs wait ID` attaches to it in the live view', async () => {
    const g = gate();
    const first = await terminal.open(ogent(execArgs(g)));
    await first.until(runningRows, 'three running rows');
    await first.keys('q');
    expect(await first.exitCode()).to.equal(1);
    const detached = await first.screen();
    const id = /detached: job (j\w+) goes on; re-attach with `ogent jobs wait (j\w+)`/.exec(detached);
    expect(id, detached).to.not.equal(null);
    expect(id?.[2]).to.equal(id?.[1]);
    const jobId = id?.[1] as string;

    const shown = await runCli(['jobs', 'show', jobId, '--json'], { env: client() });
    expect(JSON.parse(shown.stdout)).to.include({ status: 'running' });

    const again = await terminal.open(ogent(['jobs', 'wait', jobId]));
    await again.until((s) => s.includes(`job ${jobId} · -t 'tui-*' · running`) && runningRows(s), 'the job, attached');
    await writeFile(g, '');
    expect(await again.exitCode()).to.equal(1);
    expect(await again.screen()).to.include(`job ${jobId} failed: 2 succeeded, 1 failed`);
  });

  it('a job that succeeds leaves ✔ rows and its summary, and exits 0', async () => {
    const g = gate();
    await writeFile(g, '');
    const window = await terminal.open(ogent(['exec', '-t', 'tui-1,tui-3', '--env', `GATE=${g}`, '--', COMMAND]));
    expect(await window.exitCode()).to.equal(0);
    const end = await window.screen();
    expect(end).to.match(/^✔ tui-1 +exit 0 +\S+ +done tui-1$/m);
    expect(end).to.match(/^✔ tui-3 +exit 0 +\S+ +done tui-3$/m);
    expect(end).to.match(/^job j\w+ succeeded: 2 succeeded \(2 agents, \S+\)$/m);
  });

  it('Ctrl-C once asks to cancel, twice detaches (the job goes on); a narrower terminal gets a narrower view', async () => {
    const window = await terminal.open(ogent(execArgs(gate())));
    await window.until(runningRows, 'three running rows');
    await terminal.tmux('resize-window', '-t', window.name, '-x', '46');
    const narrow = await window.until(
      (s) => s.includes('c cancel · q detach') && !s.includes('enter widen'),
      'short keys',
    );
    const lines = narrow.split('\n').filter((l) => !l.startsWith('EXIT='));
    expect(Math.max(...lines.map((l) => [...l].length))).to.be.at.most(46);
    expect(narrow).to.match(new RegExp(`^› ${SPINNER} tui-1 +running`, 'm'));
    await window.keys('C-c');
    await window.until((s) => s.includes('cancel the job? y/n (ctrl-c: detach)'), 'the question');
    await window.keys('C-c');
    expect(await window.exitCode()).to.equal(1);
    const screen = await window.screen();
    const jobId = /detached: job (j\w+) goes on/.exec(screen)?.[1] as string;
    expect(jobId, screen).to.be.a('string');
    const shown = await runCli(['jobs', 'show', jobId, '--json'], { env: client() });
    expect(JSON.parse(shown.stdout)).to.include({ status: 'running' });
    expect((await runCli(['jobs', 'cancel', jobId], { env: client() })).code).to.equal(0);
  });

  it('the commands load without React and Ink: only the live view loads them, as it starts', async () => {
    const script = [
      "import { createRequire } from 'node:module';",
      "await import('./lib/commands.js');",
      'const loaded = Object.keys(createRequire(import.meta.url).cache).filter((p) => /node_modules.(react|ink)./.test(p));',
      'process.stdout.write(JSON.stringify(loaded));',
    ].join('\n');
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
      cwd: join(BIN, '..', '..'),
      encoding: 'utf8',
    });
    expect(JSON.parse(stdout)).to.deep.equal([]);
  });

  it('piped (`exec … | cat`), on a terminal or not, the output has no escape codes', async () => {
    const out = join(root, 'piped.txt');
    const g = gate();
    await writeFile(g, '');
    // stdin and stderr are the terminal, stdout a pipe: plain lines, like cron.
    const window = await terminal.open(`{ ${ogent(execArgs(g))}; echo "EXEC=$?" >&2; } | cat > ${quote(out)}`);
    expect(await window.exitCode()).to.equal(0);
    expect(await window.screen()).to.match(/^EXEC=1$/m);
    const piped = await readFile(out, 'utf8');
    for (const agent of AGENTS) expect(piped).to.include(`${agent.name}: hello from ${agent.name}\n`);
    expect(piped).to.not.include('\u001B');
    expect(await window.screen()).to.match(/^job j\w+ failed: 2 succeeded, 1 failed/m);

    const spawned = await runCli(execArgs(g), { env: client() });
    expect(spawned.code, spawned.stderr).to.equal(1);
    expect(spawned.stdout, spawned.stderr).to.include('tui-2: done tui-2');
    expect(spawned.stdout + spawned.stderr).to.not.include('\u001B');
  });
});

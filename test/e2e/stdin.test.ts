import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Job } from '../../src/domain/model.js';
import { BIN, runCli, type CliResult } from '../helpers/cli.js';
import { waitFor } from '../helpers/fixtures.js';
import {
  ADMIN_PASSWORD,
  adminToken,
  api,
  controllerProcess,
  createAgentUsers,
  freePort,
  startSwarm,
  type ControllerProcess,
} from '../helpers/processes.js';
import { RedisServer } from '../helpers/redis.js';
import { processScope } from '../helpers/scope.js';

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
/** `seq 1 N` as its output. */
const seq = (n: number) => Array.from({ length: n }, (_, i) => `${i + 1}\n`).join('');

/** README, Standard input: piped stdin reaches every run, whole, then end-of-file (real processes). */
describe('exec forwards its stdin to every run (real processes)', function () {
  this.timeout(120_000);
  const scope = processScope('ogent-stdin-');
  let controller: ControllerProcess;

  const env = (url: string) => ({
    OGENT_CONTROLLER: url,
    OGENT_USERNAME: 'admin',
    OGENT_PASSWORD: ADMIN_PASSWORD,
    OGENT_TOKEN: undefined,
    XDG_CONFIG_HOME: join(scope.root, 'cli'),
  });
  /** `exec ARGS` with its stdin from `stdin` ('closed': fd 0 closed); `write` feeds a pipe. */
  const exec = (
    args: string[],
    stdin: 'pipe' | 'ignore' | 'closed' | number,
    url = controller.url,
  ): { child: ChildProcess; done: Promise<CliResult> } => {
    const argv = [BIN, 'exec', ...args];
    const child =
      stdin === 'closed'
        ? spawn('/bin/sh', ['-c', 'exec "$0" "$@" <&-', process.execPath, ...argv], {
            env: { ...process.env, ...env(url) },
            stdio: ['inherit', 'pipe', 'pipe'],
          })
        : spawn(process.execPath, argv, { env: { ...process.env, ...env(url) }, stdio: [stdin, 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => out.push(d));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const done = new Promise<CliResult>((resolve) =>
      child.on('close', (code) => {
        const stdoutBytes = Buffer.concat(out);
        resolve({ code, stdout: stdoutBytes.toString(), stdoutBytes, stderr });
      }),
    );
    scope.defer(() => child.kill('SIGKILL'));
    return { child, done };
  };
  const cli = (args: string[], input?: string, url = controller.url) =>
    runCli(args, { env: env(url), input, timeoutMs: 60_000 });
  const jobOf = (res: CliResult) => {
    expect(res.code, res.stderr).to.be.oneOf([0, 1]);
    return JSON.parse(res.stdout) as Job;
  };
  const agents = async (prefix: string, count: number, url = controller.url) => {
    await createAgentUsers(url, prefix, count);
    scope.track(await startSwarm(url, prefix, count));
  };

  beforeEach(async () => {
    controller = scope.track(await controllerProcess(join(scope.root, 'data'), 0));
  });

  it('two agents both read the two piped lines, then end-of-file', async () => {
    await agents('two', 2);
    const res = await cli(['exec', '-t', 'two-*', '--json', '--', 'cat; echo "[eof]"'], 'line one\nline two\n');
    const job = jobOf(res);
    expect(job.status, res.stderr).to.equal('succeeded');
    expect(job.runs.map((r) => r.stdout)).to.deep.equal(Array(2).fill('line one\nline two\n[eof]\n'));
    expect(job.stdin).to.deep.equal({ bytes: 18, ended: true });
    expect(job.requires).to.deep.equal(['stdin']);
  });

  it('every executor gives the process its stdin: exec (no shell) and script too', async () => {
    await agents('ex', 1);
    const script = join(scope.root, 'read.sh');
    await writeFile(script, '#!/bin/sh\nread line; echo "script read: $line"\n');
    const viaExec = jobOf(await cli(['exec', '-t', 'ex-1', '--json', '--executor', 'exec', '--', 'cat'], 'argv\n'));
    expect(viaExec.runs[0]?.stdout).to.equal('argv\n');
    const viaScript = jobOf(await cli(['exec', '-t', 'ex-1', '--json', '--script', script], 'a line\n'));
    expect(viaScript.runs[0]?.stdout).to.equal('script read: a line\n');
  });

  it('1.3 MB of `seq` arrives whole on both agents (sha256)', async () => {
    await agents('big', 2);
    const input = seq(200_000);
    expect(input.length).to.be.greaterThan(1_250_000);
    const res = await cli(['exec', '-t', 'big-*', '--json', '--', 'sha256sum | cut -d" " -f1; echo'], input);
    const job = jobOf(res);
    expect(job.runs.map((r) => r.stdout.trim())).to.deep.equal(Array(2).fill(sha256(input)));
    expect(job.stdin?.bytes).to.equal(input.length);
  });

  it('-n sends nothing: the process reads end-of-file at once, and no capability is required', async () => {
    await agents('n', 1);
    const res = await cli(['exec', '-n', '-t', 'n-1', '--json', '--', 'cat; echo "[eof]"'], 'not sent\n');
    const job = jobOf(res);
    expect(job.runs[0]?.stdout).to.equal('[eof]\n');
    expect(job.stdin).to.equal(undefined);
    expect(job.requires).to.equal(undefined);
    // A script's pipe that ends at once with nothing in it: the same, nothing required of the agents.
    const empty = jobOf(await cli(['exec', '-t', 'n-1', '--json', '--', 'cat; echo "[eof]"'], ''));
    expect(empty.runs[0]?.stdout).to.equal('[eof]\n');
    expect(empty.requires).to.equal(undefined);
  });

  it('</dev/null (cron), a closed stdin and an empty file end normally: end-of-file at once, nothing required', async () => {
    await agents('cron', 1);
    const empty = await open(join(scope.root, 'empty'), 'w+');
    scope.defer(() => empty.close());
    for (const stdin of ['ignore', 'closed', empty.fd] as const) {
      const { done } = exec(['-t', 'cron-1', '--json', '--', 'cat; echo "[eof]"'], stdin);
      const job = jobOf(await done);
      const what = String(stdin);
      expect(job.runs[0]?.stdout, what).to.equal('[eof]\n');
      expect(job.stdin, what).to.equal(undefined);
      expect(job.requires, what).to.equal(undefined);
    }
  });

  it('a command that never reads stdin is not held by a pipe still open: exec ends with the job', async () => {
    await agents('open', 1);
    const { child, done } = exec(['-t', 'open-1', '--json', '--', 'echo ran'], 'pipe');
    child.stdin?.write('some bytes, and the pipe stays open\n');
    const res = await done;
    // The pipe was never closed: exec ended because the job did.
    expect(child.stdin?.writableEnded).to.equal(false);
    const job = jobOf(res);
    expect(job.status).to.equal('succeeded');
    expect(job.runs[0]?.stdout).to.equal('ran\n');
  });

  it('past 64 MiB exec cancels the job, exits 2 and names `ogent cp`', async () => {
    await agents('bound', 1);
    const file = join(scope.root, 'big.bin');
    const handle = await open(file, 'w');
    const mib = Buffer.alloc(1024 * 1024, 'x');
    for (let i = 0; i < 65; i++) await handle.write(mib);
    await handle.close();
    const input = await open(file, 'r');
    const { done } = exec(['-t', 'bound-1', '--json', '--', 'cat > /dev/null; echo done'], input.fd);
    const res = await done;
    await input.close();
    expect(res.code, res.stderr).to.equal(2);
    expect(res.stderr).to.match(/larger than 64 MiB/);
    expect(res.stderr).to.include('ogent cp');
    const token = await adminToken(controller.url);
    const { jobs } = await api<{ jobs: Array<{ id: string }> }>(controller.url, token, '/api/v1/jobs');
    const job = await api<Job>(controller.url, token, `/api/v1/jobs/${jobs[0]?.id}`);
    expect(job.status).to.equal('cancelled');
    expect(job.runs.map((r) => r.status)).to.deep.equal(['cancelled']);
  });

  it('a run delivered later (its agent starts after the job) reads the same bytes from the start', async () => {
    await createAgentUsers(controller.url, 'late', 1);
    // Known to the controller, then offline when the job is created.
    await (await startSwarm(controller.url, 'late', 1)).stop('SIGKILL');
    const running = cli(['exec', '-t', 'late-1', '--deliver-within', '60s', '--json', '--', 'cat'], 'for later\n');
    const token = await adminToken(controller.url);
    await waitFor(async () => {
      const { jobs } = await api<{ jobs: Array<{ id: string }> }>(controller.url, token, '/api/v1/jobs');
      const job = jobs[0] && (await api<Job>(controller.url, token, `/api/v1/jobs/${jobs[0].id}`));
      return job && job.stdin?.ended;
    }, 'the job with all of its stdin stored');
    scope.track(await startSwarm(controller.url, 'late', 1));
    const job = jobOf(await running);
    expect(job.runs[0]?.stdout).to.equal('for later\n');
  });

  it('with Redis: client on controller A, agent on controller B, the bytes arrive', async () => {
    const redis = await RedisServer.start();
    scope.defer(() => redis.stop());
    const serve = async (name: string) =>
      scope.track(await controllerProcess(join(scope.root, name), await freePort(), ['--redis', redis.url]));
    const a = await serve('a');
    const b = await serve('b');
    await agents('far', 1, b.url);
    const input = seq(50_000);
    const res = await cli(['exec', '-t', 'far-1', '--json', '--', 'sha256sum | cut -d" " -f1'], input, a.url);
    const job = jobOf(res);
    expect(job.runs[0]?.stdout.trim()).to.equal(sha256(input));
  });

  it('jobs rerun runs again with the same stdin; one whose stdin was cut short is refused', async () => {
    await agents('re', 2);
    const first = jobOf(
      await cli(['exec', '-t', 're-*', '--json', '--', 'cat; [ "$(hostname)" = none ] || exit 3'], 'again\n'),
    );
    expect(first.runs.map((r) => r.status)).to.deep.equal(['failed', 'failed']);
    const rerun = jobOf(await cli(['jobs', 'rerun', first.id, '--json']));
    expect(rerun.rerunOf).to.equal(first.id);
    expect(rerun.stdin).to.deep.equal({ bytes: 6, ended: true });
    expect(rerun.runs.map((r) => r.stdout)).to.deep.equal(['again\n', 'again\n']);
    // The job ends before its stdin does: what the runs got is not the whole input.
    const { child, done } = exec(['-t', 're-1', '--json', '--', 'exit 1'], 'pipe');
    child.stdin?.write('part of it\n');
    const cut = jobOf(await done);
    const refused = await cli(['jobs', 'rerun', cut.id]);
    expect(refused.code, refused.stderr).to.equal(1);
    expect(refused.stderr).to.match(/did not get the whole of its stdin/);
  });

  it('--async runs with an empty pipe (as -n) and refuses bytes it would drop (exit 2)', async () => {
    await agents('as', 1);
    const empty = await cli(['exec', '-t', 'as-1', '--async', '--', 'cat'], '');
    expect(empty.code, empty.stderr).to.equal(0);
    const dropped = await cli(['exec', '-t', 'as-1', '--async', '--', 'cat'], 'would be lost\n');
    expect(dropped.code, dropped.stderr).to.equal(2);
    expect(dropped.stderr).to.match(/exec --async cannot send stdin/);
    expect(dropped.stderr).to.include('--no-stdin');
  });

  it('refuses a controller that cannot take stdin (exit 4) and says to pass -n', async () => {
    const fake = join(scope.root, 'old-controller.mjs');
    await writeFile(
      fake,
      "import http from 'node:http';\n" +
        "const s = http.createServer((req, res) => { res.setHeader('content-type', 'application/json');\n" +
        "  res.end(JSON.stringify({ status: 'ok', version: '0.1.0' })); });\n" +
        "s.listen(0, '127.0.0.1', () => console.log('port ' + s.address().port));\n",
    );
    const server = spawn(process.execPath, [fake], { stdio: ['ignore', 'pipe', 'inherit'] });
    scope.defer(() => server.kill('SIGKILL'));
    const port = await new Promise<string>((resolve) =>
      server.stdout.on('data', (d: Buffer) => resolve(/port (\d+)/.exec(d.toString())?.[1] ?? '')),
    );
    const res = await runCli(['exec', '-t', 'x', '--', 'cat'], {
      env: { OGENT_CONTROLLER: `http://127.0.0.1:${port}`, OGENT_TOKEN: 'anything', XDG_CONFIG_HOME: scope.root },
      input: 'data\n',
    });
    expect(res.code, res.stderr).to.equal(4);
    expect(res.stderr).to.match(/runs ogent 0\.1\.0, which cannot take stdin/);
    expect(res.stderr).to.include('--no-stdin');
  });
});

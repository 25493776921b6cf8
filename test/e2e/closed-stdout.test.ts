import { expect } from 'chai';
import { spawn } from 'node:child_process';
import type { Job } from '../../src/domain/model.js';
import { BIN, runCli } from '../helpers/cli.js';
import { ADMIN_PASSWORD, Fixtures } from '../helpers/fixtures.js';

/** `ogent ARGS | head -c1`: the reader closes the pipe after the first chunk; how the command ends. */
function closedEarly(args: string[], env: Record<string, string>) {
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; first: string }>(
    (resolve, reject) => {
      const child = spawn(process.execPath, [BIN, ...args], {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      let first = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.stdout.once('data', (d: Buffer) => {
        first = d.toString();
        child.stdout.destroy();
      });
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`ogent ${args.join(' ')} went on after its stdout was closed\nstderr: ${stderr}`));
      }, 30_000);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, stderr, first });
      });
    },
  );
}

describe('a closed stdout ends a command quietly, as `cat` does (real bin/run.js, real pipes)', function () {
  this.timeout(60_000);
  const fx = new Fixtures();
  let env: Record<string, string>;
  const LOTS = 'seq 1 400000'; // ~2.6 MB: far more than a pipe holds

  before(async () => {
    const controller = await fx.controller();
    await fx.agent(controller, 'pipe-1');
    env = { OGENT_CONTROLLER: controller.url, OGENT_USERNAME: 'admin', OGENT_PASSWORD: ADMIN_PASSWORD };
  });
  after(() => fx.cleanup());

  it('`jobs logs ID | head -1`: no error, ended by SIGPIPE', async () => {
    const created = await runCli(['exec', '-t', 'pipe-1', '--json', '--', LOTS], { env });
    expect(created.code, created.stderr).to.equal(0);
    const id = (JSON.parse(created.stdout) as Job).id;
    const res = await closedEarly(['jobs', 'logs', id], env);
    expect(res.first).to.match(/^==> pipe-1 \(succeeded, exit 0\) <==\n/);
    expect(res.stderr).to.equal('');
    expect(res.signal).to.equal('SIGPIPE');
  });

  it('`jobs logs ID --agent NAME | head -1` (raw output): the same', async () => {
    const created = await runCli(['exec', '-t', 'pipe-1', '--json', '--', LOTS], { env });
    const id = (JSON.parse(created.stdout) as Job).id;
    const res = await closedEarly(['jobs', 'logs', id, '--agent', 'pipe-1'], env);
    expect(res.first).to.match(/^1\n/);
    expect(res.stderr).to.equal('');
    expect(res.signal).to.equal('SIGPIPE');
  });

  it('`exec … | head -1` (plain output): no error, ended by SIGPIPE', async () => {
    const res = await closedEarly(['exec', '-t', 'pipe-1', '--', LOTS], env);
    expect(res.first).to.match(/^pipe-1: 1\n/);
    expect(res.stderr).not.to.match(/EPIPE|Error/);
    expect(res.signal).to.equal('SIGPIPE');
  });
});

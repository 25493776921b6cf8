import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { outputMode } from '../../../src/client/live-follow.js';
import { renderJobView } from '../../../src/ui/render-job-view.js';
import { job, run } from './fixtures.js';

/** A terminal: stdout that says it is a TTY and keeps what is written; stdin that takes keys. */
function terminal() {
  let written = '';
  const stdout = Object.assign(
    new Writable({
      write(chunk: Buffer, _enc, done) {
        written += chunk.toString();
        done();
      },
    }),
    { isTTY: true, columns: 80, rows: 24, hasColors: () => false },
  );
  const stdin = Object.assign(new EventEmitter(), {
    isTTY: true,
    queued: [] as string[],
    setRawMode() {},
    setEncoding() {},
    ref() {},
    unref() {},
    resume() {},
    pause() {},
    read(this: { queued: string[] }) {
      return this.queued.shift() ?? null;
    },
    press(this: EventEmitter & { queued: string[] }, key: string) {
      this.queued.push(key);
      this.emit('readable');
    },
  });
  // eslint-disable-next-line no-control-regex
  const text = () => written.replace(/\u001B\[[0-?]*[ -/]*[@-~]/g, '');
  return { stdout: stdout as unknown as NodeJS.WriteStream, stdin, text };
}

describe('renderJobView', () => {
  it('draws the job from its events and leaves the final summary when it ends', async () => {
    const term = terminal();
    const view = renderJobView({
      cancelJob: async () => {},
      stdout: term.stdout,
      stdin: term.stdin as unknown as NodeJS.ReadStream,
      env: {},
    });
    view.events.snapshot?.(job([run('web-1', 'running'), run('web-2', 'running')]));
    view.events.output('web-1', 'j1_web-1', 'stdout', 'hello from web-1\n');
    await view.finish(job([run('web-1', 'succeeded'), run('web-2', 'failed', { exitCode: 4 })]));
    expect(term.text()).to.include('✔ web-1 exit 0').and.include('✖ web-2 exit 4');
    expect(term.text()).to.include('job j1 failed: 1 succeeded, 1 failed (2 agents, 2.0s)');
    expect(view.detached.aborted).to.equal(false);
  });

  it('q aborts the detach signal and leaves the way back on screen', async () => {
    const term = terminal();
    const view = renderJobView({
      cancelJob: async () => {},
      stdout: term.stdout,
      stdin: term.stdin as unknown as NodeJS.ReadStream,
      env: {},
    });
    view.events.snapshot?.(job([run('web-1', 'running')]));
    const detached = new Promise((resolve) => view.detached.addEventListener('abort', resolve));
    term.stdin.press('q');
    await detached;
    await view.close();
    expect(term.text()).to.include('detached: job j1 goes on; re-attach with `ogent jobs wait j1`');
  });

  it('aborting its signal closes the view where it stands', async () => {
    const term = terminal();
    const abort = new AbortController();
    const view = renderJobView({
      cancelJob: async () => {},
      stdout: term.stdout,
      stdin: term.stdin as unknown as NodeJS.ReadStream,
      env: {},
      signal: abort.signal,
    });
    view.events.snapshot?.(job([run('web-1', 'running')]));
    abort.abort();
    await view.gone;
    expect(term.text()).to.include('web-1 running').and.not.include('detached');
  });
});

describe('outputMode', () => {
  const tty = { isTTY: true };
  it('is the live view only on a terminal, without --json, --stream or --no-tui, not for TERM=dumb or in CI', () => {
    expect(outputMode({}, tty, {})).to.equal('tui');
    expect(outputMode({}, { isTTY: false }, {})).to.equal('plain');
    expect(outputMode({}, {}, {})).to.equal('plain');
    expect(outputMode({ noTui: true }, tty, {})).to.equal('plain');
    expect(outputMode({ json: true }, tty, {})).to.equal('json');
    expect(outputMode({ stream: true }, tty, {})).to.equal('stream');
    expect(outputMode({}, tty, { TERM: 'dumb' })).to.equal('plain');
    expect(outputMode({}, tty, { CI: 'true' })).to.equal('plain');
    expect(outputMode({}, tty, { CI: 'false' })).to.equal('tui');
  });
});

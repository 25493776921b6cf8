import { expect } from 'chai';
import { briefOf } from '../../../src/protocol/events.js';
import { LiveJob } from '../../../src/ui/live-job.js';
import { job, run } from './fixtures.js';

describe('LiveJob (the live view model)', () => {
  it('counts runs: done, succeeded, failed (every terminal status but succeeded and cancelled), cancelled, running, queued', () => {
    const model = new LiveJob();
    model.snapshot(
      job([
        run('a', 'succeeded'),
        run('b', 'failed'),
        run('c', 'timed_out'),
        run('d', 'running'),
        run('e', 'dispatched'),
        run('f', 'queued'),
        run('g', 'unreachable'),
        run('h', 'cancelled'),
      ]),
    );
    expect(model.state().counts).to.deep.equal({
      total: 8,
      done: 5,
      succeeded: 1,
      failed: 3,
      cancelled: 1,
      running: 2,
      queued: 1,
    });
  });

  it('orders problems first, then running, queued and succeeded, by name with numbers in order', () => {
    const model = new LiveJob();
    model.snapshot(
      job([
        run('web-10', 'succeeded'),
        run('web-2', 'succeeded'),
        run('web-3', 'queued'),
        run('web-4', 'running'),
        run('web-5', 'lost'),
        run('web-1', 'failed'),
      ]),
    );
    expect(model.state().runs.map((r) => r.agent)).to.deep.equal([
      'web-1',
      'web-5',
      'web-4',
      'web-3',
      'web-2',
      'web-10',
    ]);
  });

  it('splits output into lines per stream, keeps the last non-blank one, and hands out a tail', () => {
    const model = new LiveJob();
    model.snapshot(job([run('a', 'running')]));
    model.output('a', 'j1_a', 'stdout', 'one\ntw');
    model.output('a', 'j1_a', 'stderr', 'oops\n');
    model.output('a', 'j1_a', 'stdout', 'o\nthree\n\n');
    expect(model.state().runs[0]?.lastLine).to.equal('three');
    expect(model.tail('j1_a', 3)).to.deep.equal([
      { stream: 'stdout', text: 'two' },
      { stream: 'stdout', text: 'three' },
      { stream: 'stdout', text: '' },
    ]);
    model.output('a', 'j1_a', 'stdout', 'partial');
    expect(model.state().runs[0]?.lastLine).to.equal('partial');
    expect(model.tail('j1_a', 1)).to.deep.equal([{ stream: 'stdout', text: 'partial' }]);
  });

  it('keeps a bounded amount of output: long lines cut, old lines dropped', () => {
    const model = new LiveJob();
    model.snapshot(job([run('a', 'running')]));
    model.output('a', 'j1_a', 'stdout', `${'x'.repeat(5000)}\n`);
    for (let i = 0; i < 2000; i++) model.output('a', 'j1_a', 'stdout', `line ${i}\n`);
    const tail = model.tail('j1_a', 10_000);
    expect(tail.length).to.be.at.most(800);
    expect(tail.at(-1)?.text).to.equal('line 1999');
    model.output('a', 'j1_a', 'stdout', 'y'.repeat(100_000));
    expect(model.tail('j1_a', 1)[0]?.text.length).to.equal(1000);
  });

  it('follows run status changes and never takes a terminal status back', () => {
    const model = new LiveJob();
    const r = run('a', 'running');
    model.snapshot(job([r]));
    model.runStatus(briefOf(run('a', 'failed', { exitCode: 3, error: 'boom' })));
    model.runStatus(briefOf(r));
    const [row] = model.state().runs;
    expect(row).to.include({ status: 'failed', exitCode: 3, error: 'boom', durationMs: 1500 });
  });

  it('rebuilds its state only when something changed, and tells the view when the phase changes', () => {
    const model = new LiveJob();
    model.snapshot(job([run('a', 'running')]));
    const first = model.state();
    expect(model.state()).to.equal(first);
    let phases = 0;
    model.onPhase(() => phases++);
    model.output('a', 'j1_a', 'stdout', 'x\n');
    expect(model.state()).to.not.equal(first);
    expect(phases).to.equal(0);
    const done = job([run('a', 'succeeded')]);
    model.finish(done);
    expect(phases).to.equal(1);
    expect(model.state()).to.include({ phase: 'finished', final: done });
    model.detach();
    expect(model.state().phase).to.equal('finished');
  });
});

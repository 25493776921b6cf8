import { expect } from 'chai';
import { render } from 'ink-testing-library';
import { briefOf } from '../../../src/protocol/events.js';
import JobView from '../../../src/ui/JobView.js';
import { LiveJob } from '../../../src/ui/live-job.js';
import { job, run, until } from './fixtures.js';

const KEYS = { up: '\u001B[A', down: '\u001B[B', enter: '\r', ctrlC: '\u0003' };

/** A job on three agents: web-1 failed, web-2 running (with output), web-3 succeeded. */
function threeAgents() {
  const model = new LiveJob();
  model.snapshot(
    job([
      run('web-1', 'failed', { exitCode: 2 }),
      run('web-2', 'running', { startedAt: new Date().toISOString() }),
      run('web-3', 'succeeded'),
    ]),
  );
  model.output('web-1', 'j1_web-1', 'stderr', 'no space left on device\n');
  model.output('web-2', 'j1_web-2', 'stdout', 'step 1\nstep 2\n');
  model.output('web-3', 'j1_web-3', 'stdout', 'all good\n');
  return model;
}

function mount(
  model: LiveJob,
  options: { interactive?: boolean; rows?: number; cancel?: (id: string) => Promise<unknown> } = {},
) {
  const calls = { cancelled: [] as string[], detached: 0 };
  const view = render(
    <JobView
      model={model}
      interactive={options.interactive ?? true}
      cancelJob={(id) => {
        calls.cancelled.push(id);
        return options.cancel ? options.cancel(id) : Promise.resolve();
      }}
      onDetach={() => calls.detached++}
      refreshMs={5}
      size={{ columns: 100, rows: options.rows ?? 24 }}
    />,
  );
  // The last frame drawn (Ink in CI mode writes a blank line when it unmounts).
  const frame = () => view.frames.findLast((f) => f.trim() !== '') ?? '';
  return { ...view, calls, frame, until: (check: (text: string) => boolean) => until(frame, check) };
}

describe('<JobView>', () => {
  it('shows the header, progress, one row per agent, the selected output and the keys', () => {
    const { frame, unmount } = mount(threeAgents());
    const lines = frame().split('\n');
    expect(lines[0]).to.match(/^job j1 · -t role=web · running · \d/);
    expect(lines[1]).to.equal('$ uptime');
    expect(lines[2]).to.include('2/3 done').and.include('1 succeeded · 1 failed · 1 running · 0 queued');
    expect(lines[3]).to.match(/^› ✖ web-1 exit 2 +1\.5s {2}no space left on device$/);
    expect(lines[4]).to.match(/^ {2}[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] web-2 running .* step 2$/);
    expect(lines[5]).to.match(/^ {2}✔ web-3 exit 0 +1\.5s {2}all good$/);
    expect(lines[6]).to.match(/^── web-1 · failed · enter: widen ─+$/);
    expect(lines[7]).to.equal('no space left on device');
    expect(lines.at(-1)).to.equal('↑↓/jk select · enter widen · c cancel job · q detach');
    unmount();
  });

  it('redraws when events arrive (paced, not per event)', async () => {
    const model = threeAgents();
    const view = mount(model);
    model.output('web-2', 'j1_web-2', 'stdout', 'step 3\n');
    model.runStatus(briefOf(run('web-2', 'succeeded')));
    await view.until((f) => /✔ web-2 exit 0 .*step 3/.test(f) && f.includes('2 succeeded'));
    view.unmount();
  });

  it('↓/j and ↑/k select an agent, whose output shows below', async () => {
    const view = mount(threeAgents());
    view.stdin.write('j');
    await view.until((f) => /^› [⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] web-2/m.test(f) && f.includes('step 1\nstep 2'));
    view.stdin.write(KEYS.down);
    await view.until((f) => /^› ✔ web-3/m.test(f) && f.includes('── web-3 · succeeded'));
    view.stdin.write(KEYS.down);
    await view.until((f) => /^› ✔ web-3/m.test(f));
    view.stdin.write('k');
    await view.until((f) => /^› [⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] web-2/m.test(f));
    view.stdin.write(KEYS.up);
    await view.until((f) => /^› ✖ web-1/m.test(f));
    view.unmount();
  });

  it('Enter widens the output to the screen and back', async () => {
    const model = threeAgents();
    for (let i = 0; i < 40; i++) model.output('web-1', 'j1_web-1', 'stdout', `line ${i}\n`);
    const view = mount(model);
    view.stdin.write(KEYS.enter);
    const wide = await view.until((f) => f.includes('enter: back'));
    expect(wide).to.not.include('web-3 exit 0');
    expect(wide).to.include('line 39');
    expect(wide.split('\n').length).to.equal(23);
    view.stdin.write(KEYS.enter);
    await view.until((f) => f.includes('enter: widen') && f.includes('✔ web-3'));
    view.unmount();
  });

  it('c asks before cancelling: n keeps watching, y cancels the job', async () => {
    const view = mount(threeAgents());
    view.stdin.write('c');
    await view.until((f) => f.includes('cancel job j1? y: cancel it · n: keep watching · ctrl-c: detach'));
    view.stdin.write('n');
    await view.until((f) => f.endsWith('q detach') && !f.includes('cancel job j1?'));
    expect(view.calls.cancelled).to.deep.equal([]);
    view.stdin.write('c');
    await view.until((f) => f.includes('cancel job j1?'));
    view.stdin.write('y');
    await view.until((f) => f.includes('cancelling job j1…'));
    expect(view.calls.cancelled).to.deep.equal(['j1']);
    view.unmount();
  });

  it('says so when the controller refuses to cancel', async () => {
    const view = mount(threeAgents(), { cancel: () => Promise.reject(new Error('forbidden: viewers cannot cancel')) });
    view.stdin.write('c');
    await view.until((f) => f.includes('cancel job j1?'));
    view.stdin.write('y');
    await view.until((f) => f.includes('cannot cancel: forbidden: viewers cannot cancel'));
    view.unmount();
  });

  it('q detaches: the job goes on and the view says how to re-attach', async () => {
    const view = mount(threeAgents());
    view.stdin.write('q');
    expect(view.calls.detached).to.equal(1);
    const last = await view.until((f) => f.includes('detached:'));
    expect(view.calls.detached).to.equal(1);
    expect(last).to.include('detached: job j1 goes on; re-attach with `ogent jobs wait j1`');
    expect(last).to.match(/^job j1 · -t role=web · detached/);
    expect(last).to.not.include('q detach');
  });

  it('Ctrl-C once asks to cancel, twice detaches', async () => {
    const view = mount(threeAgents());
    view.stdin.write(KEYS.ctrlC);
    await view.until((f) => f.includes('cancel job j1?'));
    expect(view.calls.detached).to.equal(0);
    view.stdin.write(KEYS.ctrlC);
    await view.until((f) => f.includes('detached: job j1 goes on'));
    expect(view.calls).to.deep.equal({ cancelled: [], detached: 1 });
  });

  it('leaves a static final summary when the job ends', async () => {
    const model = threeAgents();
    const view = mount(model);
    model.finish(job([run('web-1', 'failed', { exitCode: 2 }), run('web-2', 'succeeded'), run('web-3', 'succeeded')]));
    const last = await view.until((f) => f.includes('job j1 failed:'));
    const lines = last.split('\n');
    expect(lines[0]).to.equal('job j1 · -t role=web · failed · 2.0s');
    expect(lines[3]).to.match(/^✖ web-1 exit 2/);
    expect(lines[4]).to.match(/^✔ web-2 exit 0/);
    expect(lines[5]).to.match(/^✔ web-3 exit 0/);
    expect(lines[6]).to.equal('job j1 failed: 2 succeeded, 1 failed (3 agents, 2.0s)');
    expect(lines).to.have.length(7);
  });

  it('without a keyboard (stdin not a terminal): no pointer, no key hints, keys ignored', () => {
    const view = mount(threeAgents(), { interactive: false });
    expect(view.frame()).to.match(/^✖ web-1/m);
    expect(view.frame()).to.not.include('q detach');
    expect(view.frame()).to.match(/^── web-1 · failed ─+$/m);
    // Keys are handled synchronously as stdin emits them: had `q` been heard, it would have detached by now.
    view.stdin.write('q');
    expect(view.calls.detached).to.equal(0);
    view.unmount();
  });

  it('with 1,000 agents the frame fits the terminal: failed and running first, the rest as counts', () => {
    const model = new LiveJob();
    const runs = Array.from({ length: 1000 }, (_, i) =>
      run(`host-${i + 1}`, i % 100 === 7 ? 'failed' : i % 10 === 3 ? 'running' : i % 2 ? 'succeeded' : 'queued'),
    );
    model.snapshot(job(runs));
    const view = mount(model, { rows: 30 });
    const lines = view.frame().split('\n');
    expect(lines.length).to.be.at.most(29);
    expect(lines.every((l) => l.length <= 100)).to.equal(true);
    expect(lines[2]).to.include('1000').and.include('10 failed');
    expect(lines.slice(3, 13).every((l) => l.includes('✖'))).to.equal(true);
    expect(lines[13]).to.include('running');
    expect(view.frame()).to.match(/\+\d+ more: .*queued, \d+ succeeded · ↑↓ scroll/);
    view.unmount();
  });
});

import { expect } from 'chai';
import { render } from 'ink-testing-library';
import JobHeader from '../../../src/ui/JobHeader.js';
import JobSummary from '../../../src/ui/JobSummary.js';
import KeyHints from '../../../src/ui/KeyHints.js';
import { LiveJob } from '../../../src/ui/live-job.js';
import OutputPane from '../../../src/ui/OutputPane.js';
import { colorWanted, theme } from '../../../src/ui/theme.js';
import { job, liveRun, run, T0 } from './fixtures.js';

const frame = (el: React.ReactElement) => render(el).lastFrame() ?? '';
const info = {
  id: 'j0mwtubvylcd307d1255',
  command: "systemctl restart nginx && journalctl -u nginx -n 20 --no-pager | grep -i 'error'",
  target: ['role=web', '!web-3'],
  status: 'running' as const,
  createdAt: T0,
  finishedAt: null,
};

describe('<JobHeader>', () => {
  it('shows the job id, the selector, the status, the elapsed time and the command', () => {
    expect(frame(<JobHeader job={info} phase="live" width={100} now={T0 + 12_300} />).split('\n')).to.deep.equal([
      "job j0mwtubvylcd307d1255 · -t role=web -t '!web-3' · running · 12s",
      "$ systemctl restart nginx && journalctl -u nginx -n 20 --no-pager | grep -i 'error'",
    ]);
  });

  it('cuts both lines at the terminal width', () => {
    const lines = frame(<JobHeader job={info} phase="live" width={40} now={T0 + 12_300} />).split('\n');
    expect(lines).to.deep.equal([
      'job j0mwtubvylcd307d1255 · -t role=web …',
      '$ systemctl restart nginx && journalctl…',
    ]);
  });

  it('says detached once detached, and waits for the job before it exists', () => {
    expect(frame(<JobHeader job={info} phase="detached" width={100} now={T0} />)).to.include('· detached ·');
    expect(frame(<JobHeader job={null} phase="live" width={100} now={T0} />)).to.include('starting the job');
  });
});

describe('<OutputPane>', () => {
  const r = liveRun('web-1', 'running');
  it('titles the agent and shows the last lines that fit, escapes removed', () => {
    const lines = [
      { stream: 'stdout' as const, text: 'one' },
      { stream: 'stderr' as const, text: '\u001B[31mtwo\u001B[0m' },
      { stream: 'stdout' as const, text: 'three' },
    ];
    expect(frame(<OutputPane run={r} lines={lines} height={3} width={40} wide={false} />).split('\n')).to.deep.equal([
      `── web-1 · running · enter: widen ${'─'.repeat(6)}`,
      'two',
      'three',
    ]);
  });

  it('says when there is no output yet, and cuts long lines at the width', () => {
    expect(frame(<OutputPane run={r} lines={[]} height={4} width={40} wide />)).to.include('(no output yet)');
    const long = [{ stream: 'stdout' as const, text: 'y'.repeat(300) }];
    expect(frame(<OutputPane run={r} lines={long} height={4} width={30} wide />).split('\n')[1]).to.equal(
      `${'y'.repeat(29)}…`,
    );
  });
});

describe('<KeyHints>', () => {
  it('lists the keys, shorter on narrow terminals', () => {
    expect(frame(<KeyHints width={100} confirming={false} message={null} jobId="j1" />)).to.equal(
      '↑↓/jk select · enter widen · c cancel job · q detach',
    );
    expect(frame(<KeyHints width={50} confirming={false} message={null} jobId="j1" />)).to.equal(
      '↑↓ ⏎ · c cancel · q detach',
    );
    expect(frame(<KeyHints width={30} confirming={false} message={null} jobId="j1" />)).to.equal('c cancel · q detach');
  });

  it('asks before cancelling, and says what happened', () => {
    expect(frame(<KeyHints width={100} confirming message={null} jobId="j1" />)).to.equal(
      'cancel job j1? y: cancel it · n: keep watching · ctrl-c: detach',
    );
    expect(frame(<KeyHints width={40} confirming message={null} jobId="j1" />)).to.equal(
      'cancel the job? y/n (ctrl-c: detach)',
    );
    expect(frame(<KeyHints width={100} confirming={false} message="cancelling job j1…" jobId="j1" />)).to.match(
      /^cancelling job j1… · ↑↓/,
    );
  });
});

describe('<JobSummary>', () => {
  it('is the one-line summary once the job ended, the way back after a detach, nothing while live', () => {
    const model = new LiveJob();
    model.snapshot(job([run('a', 'running')]));
    expect(frame(<JobSummary state={model.state()} />)).to.equal('');
    model.detach();
    expect(frame(<JobSummary state={model.state()} />)).to.equal(
      'detached: job j1 goes on; re-attach with `ogent jobs wait j1`',
    );
    const ended = new LiveJob();
    ended.finish(job([run('a', 'succeeded')]));
    expect(frame(<JobSummary state={ended.state()} />)).to.equal('job j1 succeeded: 1 succeeded (1 agent, 2.0s)');
  });
});

describe('theme', () => {
  const tty = { hasColors: () => true };
  it('has colour on a colour terminal, none with NO_COLOR, FORCE_COLOR=0, TERM=dumb or a terminal without colours', () => {
    expect(colorWanted({}, tty)).to.equal(true);
    expect(colorWanted({ NO_COLOR: '1' }, tty)).to.equal(false);
    expect(colorWanted({ NO_COLOR: '' }, tty)).to.equal(true);
    expect(colorWanted({ FORCE_COLOR: '0' }, tty)).to.equal(false);
    expect(colorWanted({ TERM: 'dumb' }, tty)).to.equal(false);
    expect(colorWanted({}, { hasColors: () => false })).to.equal(false);
  });

  it('without colour, no style at all', () => {
    expect(theme(false)).to.deep.equal({ color: false, dim: false, bold: false, inverse: false });
    expect(theme(true)).to.include({ ok: 'green', bad: 'red', dim: true });
  });
});

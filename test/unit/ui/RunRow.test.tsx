import { expect } from 'chai';
import { render } from 'ink-testing-library';
import type { RunStatus } from '../../../src/domain/model.js';
import RunRow from '../../../src/ui/RunRow.js';
import { liveRun, T0 } from './fixtures.js';

const row = (el: React.ReactElement) => render(el).lastFrame() ?? '';

describe('<RunRow>', () => {
  const NOW = T0 + 3200;

  it('shows ✔ and the exit code, the duration and the last line of a run that succeeded', () => {
    const frame = row(
      <RunRow run={liveRun('web-1', 'succeeded', { lastLine: 'up 3 days' })} width={80} nameWidth={5} now={NOW} />,
    );
    expect(frame).to.equal('  ✔ web-1 exit 0        1.5s  up 3 days');
  });

  it('shows a spinner, the time so far and the last line of a running run; • once frozen', () => {
    const r = liveRun('web-2', 'running', { lastLine: 'working', durationMs: null });
    expect(row(<RunRow run={r} width={80} nameWidth={5} now={NOW} />)).to.match(
      /^ {2}[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] web-2 running +3\.2s {2}working$/,
    );
    expect(row(<RunRow run={r} width={80} nameWidth={5} now={NOW} frozen />)).to.match(/^ {2}• web-2 running/);
  });

  const cases: Array<[RunStatus, Partial<Parameters<typeof liveRun>[2]>, RegExp]> = [
    ['failed', { exitCode: 3, lastLine: 'disk full' }, /✖ web-1 exit 3 +1\.5s {2}disk full$/],
    ['failed', { exitCode: null, signal: 'SIGKILL' }, /✖ web-1 sig kill/],
    ['timed_out', {}, /✖ web-1 timed out +1\.5s$/],
    ['cancelled', {}, /✖ web-1 cancelled/],
    [
      'rejected',
      { error: 'denied by --deny ^rm', startedAt: null, durationMs: null },
      /✖ web-1 rejected +denied by --deny \^rm$/,
    ],
    ['lost', { error: 'agent vanished' }, /✖ web-1 lost .*agent vanished$/],
    ['unreachable', { error: 'agent offline' }, /✖ web-1 unreachable .*agent offline$/],
    ['skipped', {}, /✖ web-1 skipped/],
    ['queued', { startedAt: null, durationMs: null }, /^ {2}· web-1 queued$/],
    ['dispatched', { durationMs: null }, /web-1 dispatched/],
  ];
  for (const [status, extra, expected] of cases) {
    it(`shows a ${status} run as ${expected}`, () => {
      expect(row(<RunRow run={liveRun('web-1', status, extra)} width={80} nameWidth={5} now={NOW} />)).to.match(
        expected,
      );
    });
  }

  it('marks the selected row with a pointer', () => {
    expect(row(<RunRow run={liveRun('web-1', 'succeeded')} width={80} nameWidth={5} now={NOW} selected />)).to.match(
      /^› ✔ web-1/,
    );
  });

  it('never shows what a command printed as escapes', () => {
    const r = liveRun('web-1', 'succeeded', { lastLine: '\u001B[2J\u001B[31mred\u001B[0m' });
    expect(row(<RunRow run={r} width={80} nameWidth={5} now={NOW} />)).to.match(/ {2}red$/);
  });

  it('fits narrow terminals: drops the last line, then the duration, cuts long names, never wraps', () => {
    const r = liveRun('a-very-long-agent-name-01', 'failed', { exitCode: 2, lastLine: 'x'.repeat(200) });
    for (const width of [100, 60, 43, 30, 20, 12]) {
      const frame = row(<RunRow run={r} width={width} nameWidth={25} now={NOW} />);
      expect(frame.split('\n'), `width ${width}`).to.have.length(1);
      expect(frame.length, `width ${width}: ${frame}`).to.be.at.most(width);
    }
    expect(row(<RunRow run={r} width={100} nameWidth={25} now={NOW} />)).to.match(
      /a-very-long-agent-name-… exit 2 +1\.5s {2}x+…$/,
    );
    expect(row(<RunRow run={r} width={43} nameWidth={25} now={NOW} />)).to.equal('  ✖ a-very-long… exit 2        1.5s');
    expect(row(<RunRow run={r} width={30} nameWidth={25} now={NOW} />)).to.equal('  ✖ a-very-long… exit 2');
  });
});

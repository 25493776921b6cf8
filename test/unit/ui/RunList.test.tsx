import { expect } from 'chai';
import { render } from 'ink-testing-library';
import type { RunStatus } from '../../../src/domain/model.js';
import type { LiveRun } from '../../../src/ui/live-job.js';
import RunList from '../../../src/ui/RunList.js';
import { liveRun, T0 } from './fixtures.js';

/** 1,000 runs ordered as the model orders them: 3 failed, 20 running, 77 queued, 900 succeeded. */
function fleet(): LiveRun[] {
  const groups: Array<[RunStatus, number]> = [
    ['failed', 3],
    ['running', 20],
    ['queued', 77],
    ['succeeded', 900],
  ];
  let i = 0;
  return groups.flatMap(([status, n]) => Array.from({ length: n }, () => liveRun(`host-${++i}`, status)));
}

describe('<RunList>', () => {
  it('shows every run when they fit', () => {
    const runs = [liveRun('a', 'failed'), liveRun('b', 'succeeded')];
    const frame = render(
      <RunList runs={runs} selectedId={null} height={5} width={60} nameWidth={1} now={T0} />,
    ).lastFrame();
    expect(frame?.split('\n')).to.have.length(2);
  });

  it('with 1,000 agents: the first rows (failed and running first), the rest as counts on one line', () => {
    const frame =
      render(
        <RunList
          runs={fleet()}
          selectedId={null}
          height={10}
          width={100}
          nameWidth={8}
          now={T0}
          scrollHint="↑↓ scroll"
        />,
      ).lastFrame() ?? '';
    const lines = frame.split('\n');
    expect(lines).to.have.length(10);
    expect(lines.slice(0, 3).every((l) => l.includes('✖'))).to.equal(true);
    expect(lines[3]).to.include('host-4').and.include('running');
    expect(lines[9]).to.equal('  +991 more: 14 running, 77 queued, 900 succeeded · ↑↓ scroll');
  });

  it('scrolls to keep the selected run in view and counts what is above and below', () => {
    const runs = fleet();
    const { lastFrame, rerender } = render(
      <RunList runs={runs} selectedId={runs[500]?.id ?? null} height={6} width={100} nameWidth={8} now={T0} />,
    );
    let lines = (lastFrame() ?? '').split('\n');
    expect(lines[4]).to.match(/^› ✔ host-501 /);
    expect(lines[5]).to.equal('  +995 more: 3 failed, 20 running, 77 queued, 895 succeeded (496 above, 499 below)');
    // Moving up inside the window does not scroll it.
    rerender(<RunList runs={runs} selectedId={runs[498]?.id ?? null} height={6} width={100} nameWidth={8} now={T0} />);
    lines = (lastFrame() ?? '').split('\n');
    expect(lines[2]).to.match(/^› ✔ host-499 /);
    expect(lines[0]).to.include('host-497');
  });

  it('draws nothing without room or runs', () => {
    expect(
      render(<RunList runs={fleet()} selectedId={null} height={0} width={80} nameWidth={8} now={T0} />).lastFrame(),
    ).to.equal('');
    expect(
      render(<RunList runs={[]} selectedId={null} height={5} width={80} nameWidth={8} now={T0} />).lastFrame(),
    ).to.equal('');
  });
});

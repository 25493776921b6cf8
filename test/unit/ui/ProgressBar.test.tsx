import { expect } from 'chai';
import { render } from 'ink-testing-library';
import type { Counts } from '../../../src/ui/live-job.js';
import ProgressBar from '../../../src/ui/ProgressBar.js';

const counts: Counts = { total: 10, done: 6, succeeded: 5, failed: 1, cancelled: 0, running: 3, queued: 1 };
const frame = (c: Counts, width: number) => render(<ProgressBar counts={c} width={width} />).lastFrame() ?? '';

describe('<ProgressBar>', () => {
  it('draws a bar and every count: done/total, succeeded, failed, running, queued', () => {
    expect(frame(counts, 100)).to.equal(
      `[${'█'.repeat(18)}${'░'.repeat(12)}] 6/10 done · 5 succeeded · 1 failed · 3 running · 1 queued`,
    );
  });

  it('is empty at the start and full at the end', () => {
    expect(frame({ total: 4, done: 0, succeeded: 0, failed: 0, cancelled: 0, running: 0, queued: 4 }, 100)).to.match(
      /^\[░{30}\] 0\/4 done/,
    );
    expect(frame({ total: 4, done: 4, succeeded: 4, failed: 0, cancelled: 0, running: 0, queued: 0 }, 100)).to.match(
      /^\[█{30}\] 4\/4 done/,
    );
  });

  it('shortens on narrow terminals: short counts, then no bar, never wider than the terminal', () => {
    expect(frame(counts, 60)).to.equal(`[${'█'.repeat(18)}${'░'.repeat(12)}] 6/10 ✔5 ✖1 ~3 ·1`);
    expect(frame(counts, 30)).to.equal('[███████░░░░] 6/10 ✔5 ✖1 ~3 ·1');
    expect(frame(counts, 24)).to.equal('6/10 ✔5 ✖1 ~3 ·1');
    expect(frame(counts, 10).length).to.be.at.most(10);
  });

  it('says cancelled runs are cancelled, not failed, as the summary line does', () => {
    const cancelled = { total: 20, done: 20, succeeded: 0, failed: 0, cancelled: 20, running: 0, queued: 0 };
    expect(frame(cancelled, 100)).to.match(/ 20\/20 done · 0 succeeded · 0 failed · 20 cancelled · 0 running/);
    expect(frame(cancelled, 30)).to.match(/20\/20 ✔0 ✖0 ⊘20 ~0 ·0$/);
  });
});

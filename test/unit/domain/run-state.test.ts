import { expect } from 'chai';
import type { Run, RunStatus } from '../../../src/domain/model.js';
import { canTransition, deriveJobStatus, isTerminal, jobExitCode, summarize } from '../../../src/domain/run-state.js';
import { runFixture } from '../../helpers/runs.js';

const run = (status: RunStatus): Run => runFixture('a', { id: 'r', status });

describe('run and job state machine', () => {
  it('moves forward only, and a terminal status is final', () => {
    expect(canTransition('queued', 'dispatched')).to.equal(true);
    expect(canTransition('dispatched', 'running')).to.equal(true);
    expect(canTransition('running', 'succeeded')).to.equal(true);
    expect(canTransition('running', 'dispatched')).to.equal(false);
    expect(canTransition('succeeded', 'failed')).to.equal(false);
    expect(canTransition('lost', 'succeeded')).to.equal(false);
    expect(isTerminal('timed_out')).to.equal(true);
    expect(isTerminal('running')).to.equal(false);
  });

  it('a job runs until every run is terminal', () => {
    expect(deriveJobStatus({ runs: [run('succeeded'), run('running')] })).to.equal('running');
    expect(deriveJobStatus({ runs: [run('succeeded'), run('succeeded')] })).to.equal('succeeded');
    expect(deriveJobStatus({ runs: [run('succeeded'), run('unreachable')] })).to.equal('failed');
    expect(deriveJobStatus({ runs: [run('cancelled'), run('succeeded')], cancelRequested: true })).to.equal(
      'cancelled',
    );
  });

  it('exit code 0 only when every run succeeded', () => {
    expect(jobExitCode({ status: 'succeeded' })).to.equal(0);
    expect(jobExitCode({ status: 'failed' })).to.equal(1);
    expect(jobExitCode({ status: 'cancelled' })).to.equal(1);
  });

  it('summarizes by terminal status', () => {
    const s = summarize([run('succeeded'), run('failed'), run('failed'), run('running')]);
    expect(s).to.include({ total: 4, succeeded: 1, failed: 2, lost: 0 });
  });
});

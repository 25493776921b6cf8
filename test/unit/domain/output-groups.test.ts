import { expect } from 'chai';
import type { Run, RunStatus } from '../../../src/domain/model.js';
import { groupRuns } from '../../../src/domain/output-groups.js';
import { runFixture } from '../../helpers/runs.js';

const run = (name: string, stdout: string, over: Partial<Run> = {}): Run =>
  runFixture(name, { status: 'succeeded' as RunStatus, exitCode: 0, stdout, ...over });

describe('domain/output-groups', () => {
  it('one group per distinct output, largest first, agents sorted by name (web-2 before web-10)', () => {
    const groups = groupRuns([
      run('web-10', 'up\n'),
      run('web-2', 'up\n'),
      run('db-1', 'down\n', { status: 'failed', exitCode: 1 }),
      run('web-1', 'up\n'),
    ]);
    expect(groups.map((g) => [g.agents, g.count, g.status, g.exitCode, g.stdout])).to.deep.equal([
      [['web-1', 'web-2', 'web-10'], 3, 'succeeded', 0, 'up\n'],
      [['db-1'], 1, 'failed', 1, 'down\n'],
    ]);
  });

  it('compares byte for byte: a trailing newline, binary output and stderr apart each make a group', () => {
    const groups = groupRuns([
      run('a', 'x\n'),
      run('b', 'x'),
      run('c', '\u0000\u00ff'),
      run('d', '\u0000\u00ff'),
      run('e', '', { stderr: 'x\n' }),
      run('f', 'x\n', { exitCode: 3, status: 'failed' }),
      run('g', 'x\n', { stdoutTruncated: true }),
    ]);
    expect(groups).to.have.length(6);
    expect(groups[0]).to.include({ count: 2, stdout: '\u0000\u00ff' });
    expect(groups.find((g) => g.agents[0] === 'e')).to.include({ stdout: '', stderr: 'x\n' });
    expect(groups.find((g) => g.agents[0] === 'g')?.truncated).to.equal(true);
    expect(groups.find((g) => g.agents[0] === 'a')?.truncated).to.equal(undefined);
  });

  it('the same output with another status or exit code is another group; ties go by first name', () => {
    const groups = groupRuns([
      run('b', '', { status: 'timed_out', exitCode: null }),
      run('a', '', { status: 'lost', exitCode: null }),
    ]);
    expect(groups.map((g) => g.status)).to.deep.equal(['lost', 'timed_out']);
    expect(groupRuns([])).to.deep.equal([]);
  });
});

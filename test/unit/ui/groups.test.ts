import { expect } from 'chai';
import type { Job, Run } from '../../../src/domain/model.js';
import { runFixture } from '../../helpers/runs.js';
import { GROUP_OUTPUT_BYTES, GroupRenderer, groupSummaryText } from '../../../src/ui/groups.js';

const run = (name: string, over: Partial<Run> = {}): Run =>
  runFixture(name, { status: 'succeeded', exitCode: 0, durationMs: 5, ...over });
const job = (runs: Run[]): Job =>
  ({
    id: 'j1',
    command: 'x',
    executor: 'shell',
    target: [],
    timeoutMs: 1000,
    status: runs.every((r) => r.status === 'succeeded') ? 'succeeded' : 'failed',
    createdBy: 'admin',
    createdAt: '2026-12-02T00:00:00.000Z',
    finishedAt: '2026-12-02T00:00:01.000Z',
    runs,
    summary: { total: runs.length, succeeded: runs.length },
  }) as unknown as Job;

class Sink {
  chunks: Buffer[] = [];
  write(c: string | Uint8Array) {
    this.chunks.push(Buffer.from(c));
    return true;
  }
  get text() {
    return Buffer.concat(this.chunks).toString('latin1');
  }
}

describe('ui/groups', () => {
  it('groups by every byte: binary outputs that decode alike stay apart', () => {
    const out = new Sink();
    const r = new GroupRenderer(true, out, new Sink());
    const runs = ['a', 'b', 'c'].map((n) => run(n));
    const j = job(runs);
    r.snapshot(j);
    r.outputBytes('a', 'j1_a', 'stdout', Buffer.from([0xff, 0x01]));
    r.outputBytes('b', 'j1_b', 'stdout', Buffer.from([0xfe, 0x01]));
    r.outputBytes('c', 'j1_c', 'stdout', Buffer.from([0xff]));
    r.outputBytes('c', 'j1_c', 'stdout', Buffer.from([0x01]));
    r.finished(j);
    const groups = (JSON.parse(out.text) as { groups: { agents: string[] }[] }).groups;
    expect(groups.map((g) => g.agents)).to.deep.equal([['a', 'c'], ['b']]);
  });

  it('keeps the first 64 KiB of an output, marks it cut, and groups on the whole', () => {
    const out = new Sink();
    const err = new Sink();
    const r = new GroupRenderer(false, out, err);
    const j = job([run('a'), run('b')]);
    r.snapshot(j);
    const big = Buffer.alloc(GROUP_OUTPUT_BYTES + 10, 0x41);
    r.outputBytes('a', 'j1_a', 'stdout', big);
    r.outputBytes('b', 'j1_b', 'stdout', Buffer.concat([big.subarray(0, GROUP_OUTPUT_BYTES + 9), Buffer.from('B')]));
    r.finished(j);
    expect(out.text.match(/^a \(1\)$/m)).to.not.equal(null);
    expect(out.text.match(/^b \(1\)$/m)).to.not.equal(null);
    expect(out.text.length).to.be.below(2 * GROUP_OUTPUT_BYTES + 200);
    expect(err.text).to.match(/output cut at 64 KiB: ogent jobs logs j1 AGENT/);
  });

  it('the live view summary stays a few lines for 1,000 distinct outputs', () => {
    const runs = Array.from({ length: 1000 }, (_, i) =>
      run(`web-${i + 1}`, { stdout: `host ${i}\nline2\nline3\nline4\n` }),
    );
    const text = groupSummaryText(job(runs), 80);
    const lines = text.trimEnd().split('\n');
    expect(lines.length).to.be.at.most(8 * 5 + 2);
    expect(text).to.match(/^\+ 992 more groups$/m);
    expect(text).to.match(/all of it: ogent jobs show j1 --group\n$/);
    expect(lines[0]).to.equal('web-1 (1)');
    expect(lines).to.include('  … 1 more line');
  });

  it('the live view summary folds one shared answer into one header', () => {
    const runs = Array.from({ length: 20 }, (_, i) => run(`n${String(i + 1).padStart(2, '0')}`, { stdout: 'ok\n' }));
    runs.push(run('db', { status: 'failed', exitCode: 2, stdout: 'no\n' }));
    expect(groupSummaryText(job(runs), 80)).to.equal(
      'n[01-20] (20)\n  ok\ndb (1): exit 2\n  no\nall of it: ogent jobs show j1 --group\n',
    );
  });
});

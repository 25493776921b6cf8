import { expect } from 'chai';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ResultSpool } from '../../../src/agent/spool.js';

describe('ResultSpool: kept output', () => {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'ogent-spool-'))));
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('keeps output bytes (not UTF-8 too) as base64 and gives the same bytes back after a restart', async () => {
    const bytes = Buffer.from([0x63, 0x61, 0x66, 0xc3, 0xa9, 0xff, 0x0a]);
    const spool = new ResultSpool(dir);
    await spool.open();
    await spool.keepOutput({ r_1: [{ runId: 'r_1', seq: 1, stream: 'stdout', data: bytes }] });
    const file = JSON.parse(await readFile(join(dir, 'spool.json'), 'utf8')) as { output: Record<string, unknown> };
    expect(file.output.r_1).to.deep.equal([
      { runId: 'r_1', seq: 1, stream: 'stdout', data: bytes.toString('base64'), encoding: 'base64' },
    ]);
    const again = new ResultSpool(dir);
    await again.open();
    const [[runId, chunks] = ['', []]] = again.output();
    expect(runId).to.equal('r_1');
    expect(Buffer.isBuffer(chunks[0]?.data) && chunks[0].data.equals(bytes)).to.equal(true);
  });

  it('reads a spool written by an older agent, whose output is plain strings', async () => {
    const old = {
      accepted: [],
      results: [],
      done: [],
      output: { r_2: [{ runId: 'r_2', seq: 3, stream: 'stderr', data: 'é\n' }] },
    };
    await writeFile(join(dir, 'spool.json'), JSON.stringify(old));
    const spool = new ResultSpool(dir);
    await spool.open();
    expect(spool.output()).to.deep.equal([['r_2', [{ runId: 'r_2', seq: 3, stream: 'stderr', data: 'é\n' }]]]);
  });
});

import { expect } from 'chai';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { openLowdbStore } from '../../src/controller/infrastructure/store/lowdb-store.js';
import { Fixtures } from '../helpers/fixtures.js';

const openFds = async () => (await readdir('/proc/self/fd')).length;

/** The embedded store keeps output files open while runs write: bounded, in order, closed with the store. */
describe('output files of the embedded store (real files)', function () {
  const fx = new Fixtures();
  afterEach(() => fx.cleanup());

  it('300 runs writing at once: every file whole and in order, never more than 128 files open', async () => {
    const dir = await fx.tempDir();
    const store = await openLowdbStore(dir);
    fx.defer(() => store.close());
    const before = await openFds();
    let most = 0;
    const runs = Array.from({ length: 300 }, (_, i) => `j1_${i}`);
    for (let round = 0; round < 5; round++) {
      await Promise.all(runs.map((run) => store.output.append('j1', run, 'stdout', `${run} line ${round}\n`)));
      most = Math.max(most, (await openFds()) - before);
    }
    expect(most).to.be.at.most(128 + 8);
    for (const run of [runs[0], runs[150], runs[299]] as string[]) {
      const want = [0, 1, 2, 3, 4].map((r) => `${run} line ${r}\n`).join('');
      expect(await text(await store.output.openRead('j1', run, 'stdout'))).to.equal(want);
    }
    // Closing the store writes what is pending and lets go of every file.
    await store.output.append('j1', 'j1_7', 'stdout', 'last\n');
    await store.close();
    expect(await openFds()).to.be.at.most(before);
    expect((await readFile(join(dir, 'output', 'j1', 'j1_7.stdout'), 'utf8')).endsWith('line 4\nlast\n')).to.equal(
      true,
    );
  });

  it('a job removed while its files are open is gone, and a later append starts a new file', async () => {
    const dir = await fx.tempDir();
    const store = await openLowdbStore(dir);
    fx.defer(() => store.close());
    await store.output.append('j2', 'j2_0', 'stdout', 'before\n');
    await store.output.removeJob('j2');
    expect(await text(await store.output.openRead('j2', 'j2_0', 'stdout'))).to.equal('');
    await store.output.append('j2', 'j2_0', 'stdout', 'after\n');
    expect(await readFile(join(dir, 'output', 'j2', 'j2_0.stdout'), 'utf8')).to.equal('after\n');
  });
});

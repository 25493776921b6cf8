import { expect } from 'chai';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirLock, LockBusyError } from '../../../src/lib/dir-lock.js';

describe('DirLock', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ogent-dirlock-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('takes over an entry left with its own pid by an earlier process (PID 1 in a container, restarted)', async () => {
    const path = join(dir, 'controller.lock');
    await mkdir(path);
    await writeFile(join(path, `${process.pid}-deadbeefdeadbeef`), '');
    const lock = await DirLock.acquire(path);
    expect(await readdir(path)).to.have.length(1).and.not.include(`${process.pid}-deadbeefdeadbeef`);
    await lock.release();
  });

  it('refuses a second holder in the same process until the first releases', async () => {
    const path = join(dir, 'agent.lock');
    const first = await DirLock.acquire(path);
    const second = await DirLock.acquire(path).catch((err: unknown) => err);
    expect(second).to.be.instanceOf(LockBusyError).with.property('pid', process.pid);
    await first.release();
    const third = await DirLock.acquire(path);
    await third.release();
  });
});

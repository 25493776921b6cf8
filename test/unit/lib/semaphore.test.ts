import { expect } from 'chai';
import { Semaphore } from '../../../src/lib/semaphore.js';

describe('Semaphore', () => {
  it('runs at most `size` tasks at once, the others in arrival order, and frees the slot of a task that threw', async () => {
    const slots = new Semaphore(2);
    const started: number[] = [];
    const release: Array<() => void> = [];
    const tasks = [0, 1, 2, 3, 4].map((i) =>
      slots.run(async () => {
        started.push(i);
        await new Promise<void>((resolve) => release.push(resolve));
        if (i === 1) throw new Error('task 1 fails');
        return i;
      }),
    );
    const settled = Promise.allSettled(tasks);
    await new Promise((r) => setImmediate(r));
    expect(started).to.deep.equal([0, 1]);
    expect(slots.active).to.equal(2);
    release[1]?.();
    await new Promise((r) => setImmediate(r));
    expect(started).to.deep.equal([0, 1, 2]);
    for (let i = 0; i < 5; i++) {
      release[i]?.();
      await new Promise((r) => setImmediate(r));
    }
    expect((await settled).map((s) => s.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
    expect(started).to.deep.equal([0, 1, 2, 3, 4]);
    expect(slots.peak).to.equal(2);
    expect(slots.idle).to.equal(true);
  });
});

import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { StdinStore } from '../../src/controller/application/ports.js';
import { RedisStdin } from '../../src/controller/infrastructure/store/redis-stdin.js';
import { FileStdin } from '../../src/controller/infrastructure/store/stdin-files.js';
import { Fixtures } from '../helpers/fixtures.js';
import { RedisServer } from '../helpers/redis.js';

/** The `StdinStore` contract, for the data dir's files and for Redis (scale-out). */
describe('stdin stores (files, Redis)', () => {
  const fx = new Fixtures();
  let redis: RedisServer;
  let dir: string;
  before(async () => {
    redis = await RedisServer.start();
  });
  after(() => redis.stop());
  afterEach(() => fx.cleanup());

  const kinds: Array<{ name: string; open(): Promise<StdinStore> }> = [
    {
      name: 'files',
      open: async () => {
        dir = join(await fx.tempDir(), 'stdin');
        return new FileStdin(dir);
      },
    },
    {
      name: 'redis',
      open: async () => {
        const client = new Redis(redis.url);
        fx.defer(() => void client.disconnect());
        return new RedisStdin(client, `t${randomBytes(4).toString('hex')}:`);
      },
    },
  ];

  for (const kind of kinds) {
    describe(kind.name, () => {
      it('appends in order; a piece sent again stores only what is new; a gap stores nothing', async () => {
        const store = await kind.open();
        expect(await store.state('j1')).to.deep.equal({ bytes: 0, ended: false });
        expect(await store.append('j1', 0, Buffer.from('abc'), 100)).to.equal(3);
        expect(await store.append('j1', 0, Buffer.from('abc'), 100)).to.equal(3);
        expect(await store.append('j1', 1, Buffer.from('bcdef'), 100)).to.equal(6);
        expect(await store.append('j1', 9, Buffer.from('zz'), 100)).to.equal(6);
        expect((await store.read('j1', 2, 100)).toString()).to.equal('cdef');
        expect((await store.read('j1', 6, 100)).length).to.equal(0);
        expect((await store.read('nothing', 0, 100)).length).to.equal(0);
      });

      it('binary bytes come back as they went in', async () => {
        const store = await kind.open();
        const bytes = randomBytes(70_000);
        expect(await store.append('bin', 0, bytes, 1_000_000)).to.equal(bytes.length);
        expect((await store.read('bin', 0, 1_000_000)).equals(bytes)).to.equal(true);
      });

      it('refuses to grow past the bound, storing nothing', async () => {
        const store = await kind.open();
        expect(await store.append('b', 0, Buffer.alloc(8), 10)).to.equal(8);
        expect(await store.append('b', 8, Buffer.alloc(3), 10)).to.equal(-1);
        expect((await store.state('b')).bytes).to.equal(8);
      });

      it('the first outcome stays; remove takes the bytes and the end', async () => {
        const store = await kind.open();
        await store.append('e', 0, Buffer.from('x'), 10);
        await store.finish('e', { ended: true });
        await store.finish('e', { error: 'too late' });
        expect(await store.state('e')).to.deep.equal({ bytes: 1, ended: true });
        await store.finish('f', { error: 'stdin upload interrupted' });
        expect(await store.state('f')).to.deep.equal({ bytes: 0, ended: false, error: 'stdin upload interrupted' });
        await store.remove('e');
        expect(await store.state('e')).to.deep.equal({ bytes: 0, ended: false });
      });

      it('reads between appends never move where the next append goes', async () => {
        const store = await kind.open();
        expect((await store.read('m', 0, 10)).length).to.equal(0);
        await store.append('m', 0, Buffer.from('ab'), 100);
        expect((await store.read('m', 0, 10)).toString()).to.equal('ab');
        await store.append('m', 2, Buffer.from('cd'), 100);
        expect((await store.read('m', 1, 2)).toString()).to.equal('bc');
        await store.append('m', 4, Buffer.from('ef'), 100);
        expect((await store.read('m', 0, 10)).toString()).to.equal('abcdef');
      });

      if (kind.name === 'files') {
        it('after a restart, a read first and then an append: the bytes go after the stored ones', async () => {
          const before = await kind.open();
          await before.append('r', 0, Buffer.from('stored'), 100);
          const after = new FileStdin(dir);
          expect((await after.read('r', 2, 2)).toString()).to.equal('or');
          expect(await after.append('r', 6, Buffer.from('+new'), 100)).to.equal(10);
          expect((await after.read('r', 0, 100)).toString()).to.equal('stored+new');
        });

        it('keeps the bytes private (0600, in a 0700 dir)', async () => {
          const store = await kind.open();
          await store.append('p', 0, Buffer.from('secret'), 100);
          expect((await stat(join(dir, 'p'))).mode & 0o777).to.equal(0o600);
          expect((await stat(dir)).mode & 0o777).to.equal(0o700);
        });
      }
    });
  }
});

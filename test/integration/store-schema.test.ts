import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import type { Agent, Job, Run } from '../../src/domain/model.js';
import { StartupError } from '../../src/lib/errors.js';
import { VERSION } from '../../src/lib/version.js';
import { loadIntoRedis } from '../../src/controller/infrastructure/store/redis-backup.js';
import { STORE_SCHEMA } from '../../src/controller/infrastructure/store/migrations.js';
import { Fixtures } from '../helpers/fixtures.js';
import { RedisServer } from '../helpers/redis.js';
import { copyStoreV1, expectV1Served, snapshot, STORE_V1, V1_JOBS } from '../helpers/store-v1.js';

describe('store schema versions and migrations', function () {
  this.timeout(60_000);
  const fx = new Fixtures();
  afterEach(() => fx.cleanup());

  describe('lowdb (data dir)', () => {
    it('migrates the first release store, keeping a copy, and serves it: logins, jobs, output, labels', async () => {
      const dataDir = join(await fx.tempDir(), 'data');
      await copyStoreV1(dataDir);
      const controller = await fx.controller({ dataDir });
      await expectV1Served(controller.url);

      expect(JSON.parse(await readFile(join(dataDir, 'schema.json'), 'utf8'))).to.include({ schema: STORE_SCHEMA });
      const { agents } = JSON.parse(await readFile(join(dataDir, 'agents.json'), 'utf8')) as { agents: Agent[] };
      expect(agents.find((a) => a.name === 'web-1')).to.deep.include({
        reportedLabels: { role: 'web', tier: 'front' },
        adminLabels: {},
      });
      const [copy, ...more] = await readdir(join(dataDir, 'backups'));
      expect(more).to.deep.equal([]);
      expect(copy).to.match(/^schema-1-\d{8}T\d{6}\.\d{3}Z$/);
      expect(await readdir(join(dataDir, 'backups', copy as string))).to.deep.equal(['agents.json']);
      expect(await readFile(join(dataDir, 'backups', copy as string, 'agents.json'))).to.deep.equal(
        await readFile(join(STORE_V1, 'agents.json')),
      );
    });

    it('2→3 builds the index of unfinished jobs from the documents; a start reads only those', async () => {
      const dataDir = join(await fx.tempDir(), 'data');
      await copyStoreV1(dataDir);
      await writeFile(join(dataDir, 'schema.json'), JSON.stringify({ schema: 2 }));
      const running = await unfinishedCopy(dataDir);
      const controller = await fx.controller({ dataDir });
      expect(JSON.parse(await readFile(join(dataDir, 'unfinished.json'), 'utf8'))).to.deep.equal({ jobs: [running] });
      expect(controller.jobs.activeCounts().jobs).to.equal(1);
      expect(JSON.parse(await readFile(join(dataDir, 'schema.json'), 'utf8'))).to.include({ schema: STORE_SCHEMA });
      await controller.close();
      // A finished job's document that is corrupt is not read at start any more; an unfinished one's is.
      await writeFile(join(dataDir, 'jobs', `${V1_JOBS.hello.id}.json`), '{"not json');
      await (await fx.controller({ dataDir })).close();
      await writeFile(join(dataDir, 'jobs', `${running}.json`), '{"not json');
      const err = await fx.controller({ dataDir }).then(
        () => null,
        (e: unknown) => e,
      );
      expect((err as Error).message).to.match(new RegExp(`${running}.json is unreadable or corrupt`));
    });

    it('a store without its index (a restored backup) has it rebuilt at start', async () => {
      const dataDir = join(await fx.tempDir(), 'data');
      await copyStoreV1(dataDir);
      const running = await unfinishedCopy(dataDir);
      await (await fx.controller({ dataDir })).close();
      await rm(join(dataDir, 'unfinished.json'));
      const controller = await fx.controller({ dataDir });
      expect(controller.jobs.activeCounts().jobs).to.equal(1);
      expect(JSON.parse(await readFile(join(dataDir, 'unfinished.json'), 'utf8'))).to.deep.equal({ jobs: [running] });
    });

    it('a second start migrates nothing again', async () => {
      const dataDir = join(await fx.tempDir(), 'data');
      await copyStoreV1(dataDir);
      await (await fx.controller({ dataDir })).close();
      await (await fx.controller({ dataDir })).close();
      expect(await readdir(join(dataDir, 'backups'))).to.have.length(1);
    });

    it('a new data dir records this release schema', async () => {
      const dataDir = join(await fx.tempDir(), 'data');
      await (await fx.controller({ dataDir })).close();
      expect(JSON.parse(await readFile(join(dataDir, 'schema.json'), 'utf8'))).to.include({ schema: STORE_SCHEMA });
    });

    it('refuses a store of a newer schema, naming both versions, and leaves every file as it was', async () => {
      const dataDir = join(await fx.tempDir(), 'data');
      await copyStoreV1(dataDir);
      await writeFile(join(dataDir, 'schema.json'), JSON.stringify({ schema: STORE_SCHEMA + 1 }), { mode: 0o644 });
      const before = await snapshot(dataDir);
      const err = await fx.controller({ dataDir }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(StartupError);
      expect((err as Error).message).to.equal(
        `the store in ${dataDir} was written by schema ${STORE_SCHEMA + 1} (a newer ogent); this ogent ${VERSION} knows ` +
          `schema ${STORE_SCHEMA}: upgrade ogent, or restore a backup with \`ogent controller restore\`; nothing was changed`,
      );
      expect(await snapshot(dataDir)).to.deep.equal(before);
    });

    it('refuses a schema file that holds no version', async () => {
      const dataDir = join(await fx.tempDir(), 'data');
      await copyStoreV1(dataDir);
      await writeFile(join(dataDir, 'schema.json'), '{"schema":"two"}');
      const err = await fx.controller({ dataDir }).then(
        () => null,
        (e: unknown) => e,
      );
      expect((err as Error).message).to.match(/schema\.json does not hold a schema version: restore a backup/);
    });
  });

  /** A copy of the fixture's failed job, still running (its timeout far off), under a newer id; returns the id. */
  async function unfinishedCopy(dataDir: string): Promise<string> {
    const job = JSON.parse(await readFile(join(dataDir, 'jobs', `${V1_JOBS.failed.id}.json`), 'utf8')) as Job;
    const id = `${V1_JOBS.failed.id.slice(0, -1)}z`;
    const run = { ...(job.runs[0] as Run), id: `${id}_0`, status: 'running' as const, exitCode: null };
    const copy = { ...job, id, status: 'running', finishedAt: null, timeoutMs: 100 * 86_400_000, runs: [run] };
    await writeFile(join(dataDir, 'jobs', `${id}.json`), JSON.stringify(copy));
    return id;
  }

  describe('Redis', () => {
    let server: RedisServer;
    let redis: Redis;
    before(async () => {
      server = await RedisServer.start();
      redis = new Redis(server.url);
    });
    after(async () => {
      redis.disconnect();
      await server.stop();
    });
    beforeEach(() => redis.flushall());

    it('migrates the first release store loaded into Redis, keeping a copy, and serves it', async () => {
      await loadIntoRedis(STORE_V1, redis, 'ogent:');
      expect(await redis.get('ogent:schema')).to.equal(null);
      const controller = await fx.controller({ redis: server.url });
      await expectV1Served(controller.url);

      expect(await redis.get('ogent:schema')).to.equal(String(STORE_SCHEMA));
      const web1 = JSON.parse(
        (await redis.hvals('ogent:agents')).find((a) => a.includes('"web-1"')) as string,
      ) as Agent;
      expect(web1).to.deep.include({ reportedLabels: { role: 'web', tier: 'front' }, adminLabels: {} });
      const copies = (await redis.keys('ogent:backup:*')).sort();
      expect(copies).to.have.length(2);
      expect(copies[0]).to.match(/^ogent:backup:schema-1-\d{8}T\d{6}\.\d{3}Z:agents$/);
      expect(copies[1]).to.match(/:agents:byname$/);
      const copied = await redis.hvals(copies[0] as string);
      expect(copied.map((a) => JSON.parse(a) as Agent).every((a) => a.reportedLabels === undefined)).to.equal(true);
    });

    it('2→3 builds the set of unfinished jobs from the documents', async () => {
      const dir = join(await fx.tempDir(), 'v2');
      await copyStoreV1(dir);
      const running = await unfinishedCopy(dir);
      await loadIntoRedis(dir, redis, 'ogent:');
      await redis.set('ogent:schema', '2');
      await redis.del('ogent:jobs:running');
      await redis.sadd('ogent:jobs:running', V1_JOBS.hello.id);
      const controller = await fx.controller({ redis: server.url });
      expect(await redis.smembers('ogent:jobs:running')).to.deep.equal([running]);
      expect(await redis.get('ogent:schema')).to.equal(String(STORE_SCHEMA));
      expect((await controller.jobs.list(10)).map((j) => j.id)).to.include(running);
    });

    it('refuses a store of a newer schema and changes no key', async () => {
      await loadIntoRedis(STORE_V1, redis, 'ogent:');
      await redis.set('ogent:schema', String(STORE_SCHEMA + 1));
      const dump = async () => {
        const keys = (await redis.keys('*')).sort();
        return Promise.all(keys.map(async (k) => [k, (await redis.dumpBuffer(k))?.toString('base64')]));
      };
      const before = await dump();
      const err = await fx.controller({ redis: server.url }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(StartupError);
      expect((err as Error).message).to.match(
        new RegExp(
          `^the store in Redis redis://127\\.0\\.0\\.1:\\d+ \\(prefix ogent:\\) was written by schema ${STORE_SCHEMA + 1}`,
        ),
      );
      expect(await dump()).to.deep.equal(before);
    });
  });
});

import { expect } from 'chai';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startController } from '../../src/controller/index.js';
import { openLowdbStore } from '../../src/controller/infrastructure/store/lowdb-store.js';
import type { Agent } from '../../src/domain/model.js';
import { silentLogger } from '../../src/lib/log.js';
import { ADMIN_PASSWORD, Fixtures } from '../helpers/fixtures.js';
import { createJob, finishedJob } from './support.js';

/** docs/architecture.md §6: one controller per data dir; a store it cannot read stops it, and it never overwrites that file. */
describe('the lowdb store', () => {
  const fx = new Fixtures();
  afterEach(() => fx.cleanup());

  const start = (dataDir: string) =>
    startController({
      host: '127.0.0.1',
      port: 0,
      dataDir,
      tokenTtlSeconds: 3600,
      adminPassword: ADMIN_PASSWORD,
      log: silentLogger,
    });

  /** A data dir a controller has used: users, agents, one finished job; then the controller is closed. */
  const usedDataDir = async () => {
    const dataDir = await fx.tempDir();
    const setup = new Fixtures();
    const controller = await start(dataDir);
    try {
      await setup.agent(controller, 'st-1');
      const admin = await setup.adminToken(controller);
      const job = await createJob(controller, admin, { command: 'echo stored', target: ['st-1'] });
      await finishedJob(controller, admin, job.id);
      return { dataDir, jobId: job.id };
    } finally {
      await setup.cleanup();
      await controller.close();
    }
  };

  it('close writes what is pending before it lets go of the data dir (an agent marked offline as it stops)', async () => {
    const dataDir = await fx.tempDir();
    const store = await openLowdbStore(dataDir);
    const agent: Agent = {
      id: 'a1',
      name: 'st-9',
      status: 'online',
      labels: {},
      info: null,
      lastSeen: new Date().toISOString(),
    };
    await store.agents.put(agent);
    // A second write within 250 ms of the first waits for its turn; close must not leave it behind.
    void store.agents.put({ ...agent, status: 'offline' });
    await store.close();
    const onDisk = JSON.parse(await readFile(join(dataDir, 'agents.json'), 'utf8')) as { agents: Agent[] };
    expect(onDisk.agents.map((a) => a.status)).to.deep.equal(['offline']);
    const lock = await readFile(join(dataDir, 'controller.lock'), 'utf8').then(
      () => 'held',
      () => 'released',
    );
    expect(lock).to.equal('released');
  });

  it('keeps users, agents and jobs across a restart, with a 0600 secret', async () => {
    const { dataDir, jobId } = await usedDataDir();
    const controller = await fx.controller({ dataDir });
    const job = await controller.jobs.get(jobId);
    expect(job.runs[0]).to.include({ status: 'succeeded', stdout: 'stored\n' });
    expect((await controller.agents.list()).map((a) => [a.name, a.status])).to.deep.equal([['st-1', 'offline']]);
    expect((await stat(join(dataDir, 'secret.key'))).mode & 0o777).to.equal(0o600);
    expect(await fx.adminToken(controller)).to.be.a('string');
  });

  it('refuses a second controller on the same data dir with a clear error, and stays up', async () => {
    const dataDir = await fx.tempDir();
    const first = await fx.controller({ dataDir });
    expect((await rejection(start(dataDir))).message).to.match(/data dir .* is in use by another controller/);
    const res = await fetch(`${first.url}/healthz`);
    expect(res.status).to.equal(200);
    // once the first is closed the dir is free again
    await first.close();
    const second = await start(dataDir);
    await second.close();
  });

  it('takes over the lock of a controller that died (its pid is gone)', async () => {
    const dataDir = await fx.tempDir();
    // An earlier version's lock file, then this version's lock entry, each of a pid that is gone.
    await writeFile(join(dataDir, 'controller.lock'), '999999999\n');
    const controller = await start(dataDir);
    const holders = async () => (await readdir(join(dataDir, 'controller.lock'))).map((e) => e.split('-')[0]);
    expect(await holders()).to.deep.equal([String(process.pid)]);
    await controller.close();
    await mkdir(join(dataDir, 'controller.lock'));
    await writeFile(join(dataDir, 'controller.lock', '999999999-00ff'), '');
    const again = await start(dataDir);
    expect(await holders()).to.deep.equal([String(process.pid)]);
    await again.close();
  });

  const corruptions: Array<{ what: string; file: (jobId: string) => string; text: string }> = [
    { what: 'users.json that is not JSON', file: () => 'users.json', text: '{"users": [ {"name": "adm' },
    { what: 'an empty users.json', file: () => 'users.json', text: '' },
    { what: 'users.json holding null', file: () => 'users.json', text: 'null\n' },
    { what: 'users.json holding a list', file: () => 'users.json', text: '[]\n' },
    { what: 'users.json with users not a list', file: () => 'users.json', text: '{"users": {"admin": 1}}\n' },
    { what: 'agents.json that is not JSON', file: () => 'agents.json', text: '{"agents": [' },
    { what: 'agents.json holding a number', file: () => 'agents.json', text: '42\n' },
    { what: 'a job file that is not JSON', file: (id) => `jobs/${id}.json`, text: '{"id": "j0' },
    { what: 'a job file holding a string', file: (id) => `jobs/${id}.json`, text: '"job"\n' },
  ];
  for (const c of corruptions) {
    it(`refuses to start on ${c.what}, naming the file, and leaves it byte for byte`, async () => {
      const { dataDir, jobId } = await usedDataDir();
      const path = join(dataDir, c.file(jobId));
      const original = await readFile(path, 'utf8');
      // A start reads the unfinished jobs' documents (unfinished.json), not the history: this one is unfinished.
      if (c.file(jobId).startsWith('jobs/')) {
        await writeFile(join(dataDir, 'unfinished.json'), JSON.stringify({ jobs: [jobId] }));
      }
      await writeFile(path, c.text);
      const before = await snapshot(dataDir);
      const err = await rejection(start(dataDir));
      expect(err.message).to.include(path);
      expect(err.message).to.match(/restore|move it away/);
      expect(await readFile(path, 'utf8')).to.equal(c.text);
      expect(await snapshot(dataDir)).to.deep.equal(before);
      // the lock was released: once the file is restored, the controller starts
      await writeFile(path, original);
      await (await start(dataDir)).close();
    });
  }

  it('says the file is corrupt and what to do about it', async () => {
    const { dataDir } = await usedDataDir();
    await writeFile(join(dataDir, 'agents.json'), 'garbage');
    const err = await rejection(start(dataDir));
    expect(err.name).to.equal('StartupError');
    expect(err.message).to.include(join(dataDir, 'agents.json'));
    expect(err.message).to.match(/corrupt/);
    expect(err.message).to.match(
      /restore a backup with `ogent controller restore`, or move it away; nothing was written/,
    );
    expect(await readdir(dataDir)).to.not.include('controller.lock');
  });
});

async function rejection(promise: Promise<{ close(): Promise<void> }>): Promise<Error> {
  try {
    const started = await promise;
    await started.close();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the controller not to start');
}

/** Every file under `dir` with its content, to check nothing was written. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath ?? dir, entry.name);
    out[path] = await readFile(path, 'utf8');
  }
  return out;
}

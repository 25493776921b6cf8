import { expect } from 'chai';
import type { RunningController } from '../../src/controller/index.js';
import { openLowdbStore } from '../../src/controller/infrastructure/store/lowdb-store.js';
import { runCli } from '../helpers/cli.js';
import { ADMIN } from '../helpers/executor-helpers.js';
import { ADMIN_PASSWORD, Fixtures } from '../helpers/fixtures.js';
import { DAY_MS, seedJobs } from '../helpers/history.js';

/** `ogent jobs prune` (issue 26): the real executable against a controller with old history. */
describe('ogent jobs prune', function () {
  this.timeout(120_000);
  const fx = new Fixtures();
  let controller: RunningController;
  let old: string[];
  let recent: string[];

  before(async () => {
    const dataDir = await fx.tempDir('ogent-prune-');
    const store = await openLowdbStore(dataDir);
    old = await seedJobs(store, 5, 40 * DAY_MS);
    recent = await seedJobs(store, 2, 10 * DAY_MS);
    await store.close();
    controller = await fx.controller({ dataDir, retainDays: 0 });
    await controller.auth.addUser(ADMIN, 'watcher', 'viewer', 'viewer-password-1');
    await controller.auth.addUser(ADMIN, 'runner', 'operator', 'operator-password-1');
  });
  after(() => fx.cleanup());

  const as = (username: string, password: string) => (args: string[]) =>
    runCli(['jobs', 'prune', ...args], {
      env: { OGENT_CONTROLLER: controller.url, OGENT_USERNAME: username, OGENT_PASSWORD: password },
    });
  const admin = as('admin', ADMIN_PASSWORD);
  const left = async () => (await controller.jobs.list(100)).map((j) => j.id).sort();

  it('viewer and operator exit 3, naming the admin role; nothing goes', async () => {
    for (const who of [as('watcher', 'viewer-password-1'), as('runner', 'operator-password-1')]) {
      const res = await who(['--before', '20d']);
      expect(res.code, res.stderr).to.equal(3);
      expect(res.stderr).to.match(/admin/);
    }
    expect(await left()).to.deep.equal([...old, ...recent].sort());
  });

  it('bad --before exits 2 with what is accepted; nothing goes', async () => {
    for (const bad of ['30', 'last week', '30days']) {
      const res = await admin(['--before', bad]);
      expect(res.code, `${bad}: ${res.stderr}`).to.equal(2);
      expect(res.stderr).to.match(/--before/);
    }
    expect(await left()).to.deep.equal([...old, ...recent].sort());
  });

  it('--dry-run counts; then the default (30 days) removes the old finished jobs; --json', async () => {
    const dry = await admin(['--before', '20d', '--dry-run']);
    expect(dry.code, dry.stderr).to.equal(0);
    expect(dry.stdout).to.match(/^would remove 5 finished jobs created before \S+ \(dry run: nothing removed\)\n$/);
    expect(await left()).to.have.length(old.length + recent.length);
    const res = await admin(['--json']);
    expect(res.code, res.stderr).to.equal(0);
    const body = JSON.parse(res.stdout) as { before: string; dryRun: boolean; removed: number; ids: string[] };
    expect(body).to.include({ dryRun: false, removed: 5 });
    expect(body.ids).to.deep.equal(old);
    const days = (Date.now() - Date.parse(body.before)) / DAY_MS;
    expect(days).to.be.within(29.9, 30.1);
    expect(await left()).to.deep.equal([...recent].sort());
    const dated = await admin(['--before', new Date(Date.now() - 5 * DAY_MS).toISOString().slice(0, 10)]);
    expect(dated.stdout).to.match(/^removed 2 finished jobs created before /);
  });
});

import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { login } from '../../src/client/http.js';
import type { Job } from '../../src/domain/model.js';
import { STORE_SCHEMA } from '../../src/controller/infrastructure/store/migrations.js';
import { runCli } from '../helpers/cli.js';
import { waitFor } from '../helpers/fixtures.js';
import {
  adminToken,
  api,
  controllerProcess,
  createAgentUsers,
  endedJob,
  freePort,
  startSwarm,
} from '../helpers/processes.js';
import { RedisServer } from '../helpers/redis.js';
import { processScope } from '../helpers/scope.js';
import { copyStoreV1, snapshot } from '../helpers/store-v1.js';

const output = async (url: string, token: string, runId: string, stream = 'stdout') =>
  (
    await fetch(`${url}/api/v1/jobs/${runId.replace(/_\d+$/, '')}/runs/${runId}/output?stream=${stream}`, {
      headers: { authorization: `Bearer ${token}` },
    })
  ).text();
const outputs = async (url: string, token: string, job: Job) =>
  Object.fromEntries(await Promise.all(job.runs.map(async (r) => [r.id, await output(url, token, r.id)])));
const names = async (url: string, token: string) =>
  (await api<{ users: Array<{ name: string }> }>(url, token, '/api/v1/users')).users.map((u) => u.name).sort();

describe('controller backup and restore (e2e)', function () {
  this.timeout(180_000);
  const scope = processScope('ogent-backup-');

  it('a backup taken while 20 agents stream output restores to a store that serves the same users, jobs and output', async () => {
    const dataDir = join(scope.root, 'data');
    const controller = scope.track(await controllerProcess(dataDir, 0));
    const { url } = controller;
    await createAgentUsers(url, 'bk', 20);
    scope.track(await startSwarm(url, 'bk', 20));
    const admin = await adminToken(url);
    await api(url, admin, '/api/v1/users', 'POST', { name: 'olive', role: 'operator', password: 'olive-pass-123456' });

    const done = await api<Job>(url, admin, '/api/v1/jobs', 'POST', { command: 'seq 1 300', target: ['swarm=bk'] });
    const finished = await endedJob(url, admin, done.id);
    const streaming = await api<Job>(url, admin, '/api/v1/jobs', 'POST', {
      command: 'for i in $(seq 1 300); do echo "line $i of a long run"; sleep 0.02; done',
      target: ['swarm=bk'],
    });
    await waitFor(async () => {
      const job = await api<Job>(url, admin, `/api/v1/jobs/${streaming.id}`);
      return job.runs.filter((r) => (r.stdoutBytes ?? 0) > 0).length === 20;
    }, 'every run of the streaming job to have output stored');

    const backup = join(scope.root, 'backup');
    const taken = await runCli(['controller', 'backup', backup, '--data-dir', dataDir]);
    expect(taken.stderr).to.match(
      new RegExp(`^backed up the store in .* \\(schema ${STORE_SCHEMA}\\) to .*: 2 jobs, 40 output files\n$`),
    );
    expect(taken.code).to.equal(0);
    const still = await api<Job>(url, admin, `/api/v1/jobs/${streaming.id}`);
    expect(still.status, 'the backup was taken while the job streamed').to.equal('running');

    const restoredDir = join(scope.root, 'restored');
    const restored = await runCli(['controller', 'restore', backup, '--data-dir', restoredDir]);
    expect(restored.code, restored.stderr).to.equal(0);
    const second = scope.track(await controllerProcess(restoredDir, await freePort()));
    const olive = (await login(second.url, 'olive', 'olive-pass-123456')).access_token;
    expect(await names(second.url, await adminToken(second.url))).to.deep.equal(await names(url, admin));

    const listed = await api<{ jobs: Array<{ id: string }> }>(second.url, olive, '/api/v1/jobs');
    expect(listed.jobs.map((j) => j.id)).to.deep.equal([streaming.id, done.id]);
    expect(await outputs(second.url, olive, finished)).to.deep.equal(await outputs(url, admin, finished));
    expect(Object.values(await outputs(second.url, olive, finished))[0]).to.have.length(1092);

    // The streaming job: each run's output is what its document counted when the backup was taken.
    const whole = await outputs(url, admin, await endedJob(url, admin, streaming.id));
    const copy = await api<Job>(second.url, olive, `/api/v1/jobs/${streaming.id}`);
    for (const run of copy.runs) {
      const text = await output(second.url, olive, run.id);
      expect(Buffer.byteLength(text)).to.equal(run.stdoutBytes ?? 0);
      expect(whole[run.id]?.startsWith(text), run.id).to.equal(true);
    }
  });

  it('refuses to restore into a dir that holds anything (exit 2) or to back up into one, writing nothing', async () => {
    const source = join(scope.root, 'v1');
    await copyStoreV1(source);
    const backup = join(scope.root, 'backup');
    expect((await runCli(['controller', 'backup', backup, '--data-dir', source])).code).to.equal(0);

    const target = join(scope.root, 'target');
    await mkdir(target);
    await writeFile(join(target, 'notes.txt'), 'mine');
    const before = await snapshot(target);
    const refused = await runCli(['controller', 'restore', backup, '--data-dir', target]);
    expect(refused.code).to.equal(2);
    expect(refused.stderr).to.match(/data dir .*target is not empty: nothing was written/);
    expect(await snapshot(target)).to.deep.equal(before);

    const again = await runCli(['controller', 'backup', target, '--data-dir', source]);
    expect(again.code).to.equal(2);
    expect(await snapshot(target)).to.deep.equal(before);

    const notBackup = await runCli(['controller', 'restore', source, '--data-dir', join(scope.root, 'new')]);
    expect(notBackup.code).to.equal(2);
    expect(notBackup.stderr).to.match(/is not an ogent backup \(it has no backup\.json\)/);
    expect(await readdir(scope.root)).to.not.include('new');
  });

  it('Redis: backup, then restore into an empty Redis and into a data dir; a Redis that holds keys is refused', async () => {
    const redis = await RedisServer.start();
    scope.defer(() => redis.stop());
    const first = `${redis.url}/0`;
    const port = await freePort();
    const controller = scope.track(
      await controllerProcess(join(scope.root, 'unused'), port, [
        '--redis',
        first,
        '--local-agent',
        '--local-agent-name',
        'loc',
      ]),
    );
    const admin = await adminToken(controller.url);
    const job = await api<Job>(controller.url, admin, '/api/v1/jobs', 'POST', {
      command: 'printf "from redis\\n"; echo err >&2',
      target: ['loc'],
    });
    const ended = await endedJob(controller.url, admin, job.id);

    const backup = join(scope.root, 'backup');
    const taken = await runCli(['controller', 'backup', backup, '--redis', first]);
    expect(taken.code, taken.stderr).to.equal(0);
    expect(taken.stderr).to.match(/1 jobs, 2 output files/);

    const second = `${redis.url}/1`;
    expect((await runCli(['controller', 'restore', backup, '--redis', second])).code).to.equal(0);
    const refused = await runCli(['controller', 'restore', backup, '--redis', second]);
    expect(refused.code).to.equal(2);
    expect(refused.stderr).to.match(/prefix ogent:\) is not empty: nothing was written/);
    const client = new Redis(second);
    expect(await client.get('ogent:schema')).to.equal(String(STORE_SCHEMA));
    client.disconnect();

    const fromRedis = scope.track(
      await controllerProcess(join(scope.root, 'unused2'), await freePort(), ['--redis', second]),
    );
    const intoDir = join(scope.root, 'restored');
    expect((await runCli(['controller', 'restore', backup, '--data-dir', intoDir])).code).to.equal(0);
    const fromDir = scope.track(await controllerProcess(intoDir, await freePort()));
    for (const url of [fromRedis.url, fromDir.url]) {
      const token = await adminToken(url);
      expect(await names(url, token)).to.deep.equal(await names(controller.url, admin));
      const listed = await api<{ jobs: Array<{ id: string; status: string }> }>(url, token, '/api/v1/jobs');
      expect(listed.jobs.map((j) => [j.id, j.status])).to.deep.equal([[job.id, 'succeeded']]);
      expect(await outputs(url, token, ended)).to.deep.equal({ [`${job.id}_0`]: 'from redis\n' });
      expect(await output(url, token, `${job.id}_0`, 'stderr')).to.equal('err\n');
    }
  });
});

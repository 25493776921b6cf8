import { expect } from 'chai';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiClient } from '../../src/client/api.js';
import { addOpsRoutes } from '../../src/controller/infrastructure/http/ops.js';
import { Router } from '../../src/controller/infrastructure/http/router.js';
import { probeDataDir } from '../../src/controller/infrastructure/store/probe.js';
import { silentLogger } from '../../src/lib/log.js';
import { VERSION } from '../../src/lib/version.js';
import { agentDetails } from '../../src/ui/views.js';
import { Fixtures, waitFor } from '../helpers/fixtures.js';
import { getJob, http } from './support.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

describe('health, readiness and agents show', function () {
  this.timeout(20_000);
  const fx = new Fixtures();
  afterEach(() => fx.cleanup());

  it('/healthz says ok with the version and the time; /readyz checks the store', async () => {
    const controller = await fx.controller();
    const health = await http(controller.url, '/healthz');
    expect(health.status).to.equal(200);
    expect(health.body).to.include({ status: 'ok', version: VERSION });
    expect(Date.parse(health.body.time as string)).to.be.closeTo(Date.now(), 60_000);
    const ready = await http(controller.url, '/readyz');
    expect(ready.status).to.equal(200);
    expect(ready.body).to.deep.equal({ status: 'ready', checks: { store: 'ok' } });
  });

  it('/readyz is 503 with the reason when a check fails or the controller is shutting down', async () => {
    let shuttingDown = false;
    const router = addOpsRoutes(new Router(silentLogger), {
      checks: [
        { name: 'store', check: async () => {} },
        { name: 'redis', check: async () => Promise.reject(new Error('connection refused')) },
      ],
      shuttingDown: () => shuttingDown,
    });
    const server = createServer((req, res) => void router.handle(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    fx.defer(() => new Promise<void>((r) => server.close(() => r())));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    let res = await http(url, '/readyz');
    expect(res.status).to.equal(503);
    expect(res.body).to.deep.equal({ status: 'not_ready', checks: { store: 'ok', redis: 'connection refused' } });
    shuttingDown = true;
    res = await http(url, '/readyz');
    expect(res.body.checks).to.include({ shutdown: 'the controller is shutting down' });
  });

  it('the store probe fails with the reason when the data dir cannot be written', async () => {
    const root = await fx.tempDir();
    await probeDataDir(root);
    // A data dir below a regular file cannot be written, even by root.
    await writeFile(join(root, 'file'), '');
    const err = await probeDataDir(join(root, 'file', 'data')).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).to.match(/data dir .*file\/data is not writable \(ENOTDIR\)/);
  });

  it('GET /api/v1/agents/:id tells how an agent is connected, and /runs lists its newest runs', async () => {
    const controller = await fx.controller();
    await fx.agent(controller, 'show-1', { role: 'web' });
    await fx.agent(controller, 'show-2');
    const token = await fx.adminToken(controller);
    const ids: string[] = [];
    for (const command of ['echo one', 'exit 4', 'echo three']) {
      const created = await http(controller.url, '/api/v1/jobs', {
        method: 'POST',
        token,
        type: 'application/json',
        body: JSON.stringify({ command, target: ['show-*'], timeoutMs: 10_000 }),
      });
      const id = created.body.id as string;
      ids.push(id);
      await waitFor(async () => (await getJob(controller, token, id)).status !== 'running', `${command} to end`);
    }
    const api = new ApiClient({ controller: controller.url, token: async () => token });
    const agent = await api.agent('show-1');
    expect(agent.connection?.address).to.match(/127\.0\.0\.1/);
    expect(Number.isNaN(Date.parse(agent.connection?.since ?? ''))).to.equal(false);
    const runs = await api.agentRuns('show-1', 2);
    expect(runs.map((r) => [r.jobId, r.command, r.status, r.exitCode])).to.deep.equal([
      [ids[2], 'echo three', 'succeeded', 0],
      [ids[1], 'exit 4', 'failed', 4],
    ]);
    expect((await api.agentRuns('show-2', 10)).every((r) => r.runId.endsWith('_1'))).to.equal(true);

    const text = agentDetails(agent, runs);
    expect(text).to.match(/^status: {5}online$/m);
    expect(text).to.match(/^connected: {2}from \S*127\.0\.0\.1 since /m);
    expect(text).to.match(/^labels: {5}role=web$/m);
    expect(text).to.match(/^executors: {2}shell/m);
    expect(text).to.match(/^last runs:\nJOB +STATUS +EXIT +DURATION +WHEN +COMMAND\n/m);
    expect(text).to.include(`${ids[1]}  failed     4`);

    const bad = await http(controller.url, '/api/v1/agents/show-1/runs?limit=0', { token });
    expect(bad.status).to.equal(400);
    const unknown = await http(controller.url, '/api/v1/agents/nobody/runs', { token });
    expect(unknown.status).to.equal(404);
  });
});

import { expect } from 'chai';
import { io } from 'socket.io-client';
import type { RunningController } from '../../src/controller/index.js';
import type { Job } from '../../src/domain/model.js';
import { EV, NAMESPACE, type ServerShutdown } from '../../src/protocol/events.js';
import { Fixtures, waitFor } from '../helpers/fixtures.js';
import { getJob, http } from './support.js';

/** Graceful shutdown, in process: what the controller and the agent do between the signal and the exit. */
describe('graceful shutdown', function () {
  this.timeout(30_000);
  const fx = new Fixtures();
  afterEach(() => fx.cleanup());

  const create = async (controller: RunningController, token: string, command: string, target: string) =>
    http(controller.url, '/api/v1/jobs', {
      method: 'POST',
      token,
      type: 'application/json',
      body: JSON.stringify({ command, target: [target], timeoutMs: 60_000 }),
    });
  const ended = (controller: RunningController, token: string, id: string): Promise<Job> =>
    waitFor(async () => {
      const job = await getJob(controller, token, id);
      return job.status !== 'running' && job;
    }, `job ${id} to end`);
  const running = (controller: RunningController, token: string, id: string) =>
    waitFor(async () => (await getJob(controller, token, id)).runs[0]?.status === 'running', 'the run to start');

  it('a controller shutting down refuses new jobs with 503 and a clear error', async () => {
    const controller = await fx.controller();
    await fx.agent(controller, 'sd-1');
    const token = await fx.adminToken(controller);
    controller.jobs.stop();
    const res = await create(controller, token, 'true', 'sd-1');
    expect(res.status).to.equal(503);
    expect(res.body).to.deep.equal({
      error: 'shutting_down',
      message: 'the controller is shutting down: try again in a moment',
    });
  });

  it('tells connected clients and agents why before it closes their connections', async () => {
    const controller = await fx.controller();
    const token = await fx.adminToken(controller);
    await controller.auth.addUser({ name: 'admin', role: 'admin' }, 'sd-raw', 'agent', 'pw-sd-raw-123456');
    const agentToken = (await controller.auth.issueFor('sd-raw')).token;
    const connections = [
      io(`${controller.url}${NAMESPACE.clients}`, { transports: ['websocket'], auth: { token } }),
      io(`${controller.url}${NAMESPACE.agents}`, { transports: ['websocket'], auth: { token: agentToken } }),
    ];
    const notices: ServerShutdown[] = [];
    const reasons: string[] = [];
    for (const socket of connections) {
      fx.defer(() => void socket.close());
      socket.on(EV.serverShutdown, (n: ServerShutdown) => notices.push(n));
      socket.on('disconnect', (r) => reasons.push(r));
    }
    await waitFor(() => connections.every((s) => s.connected), 'both to connect');
    await controller.close();
    await waitFor(() => reasons.length === 2, 'both to be disconnected');
    expect(notices).to.deep.equal(Array(2).fill({ reason: 'the controller is shutting down' }));
    // Closed at the transport, not by a server "disconnect": socket.io clients reconnect by themselves.
    expect(reasons).to.deep.equal(['transport close', 'transport close']);
  });

  it('a stopping agent refuses new runs, lets a running one finish within the grace, and reports it', async () => {
    const controller = await fx.controller();
    const agent = await fx.agent(controller, 'sd-2');
    const token = await fx.adminToken(controller);
    const first = await create(controller, token, 'sleep 1; echo finished', 'sd-2');
    await running(controller, token, first.body.id as string);

    const stopped = agent.stop({ graceMs: 20_000 });
    const second = await create(controller, token, 'echo never', 'sd-2');
    expect(second.status).to.equal(201);
    const refused = await ended(controller, token, second.body.id as string);
    expect(refused.runs[0]).to.include({ status: 'rejected', error: 'the agent is shutting down' });

    await stopped;
    const done = await ended(controller, token, first.body.id as string);
    expect(done.runs[0]).to.include({ status: 'succeeded', stdout: 'finished\n' });
    expect(agent.client.connected).to.equal(false);
  });

  it('past the grace, the agent cancels the run, reports it with the reason, then stops', async () => {
    const controller = await fx.controller();
    const agent = await fx.agent(controller, 'sd-3');
    const token = await fx.adminToken(controller);
    const job = await create(controller, token, 'sleep 60', 'sd-3');
    await running(controller, token, job.body.id as string);
    await agent.stop({ graceMs: 100 });
    const done = await ended(controller, token, job.body.id as string);
    expect(done.runs[0]).to.include({
      status: 'cancelled',
      error: 'the agent was stopped before the command finished',
    });
  });

  it('a second stop cuts the grace short', async () => {
    const controller = await fx.controller();
    const agent = await fx.agent(controller, 'sd-4');
    const token = await fx.adminToken(controller);
    const job = await create(controller, token, 'sleep 60', 'sd-4');
    await running(controller, token, job.body.id as string);
    const first = agent.stop({ graceMs: 600_000 });
    await agent.stop({ graceMs: 0 });
    await first;
    expect((await ended(controller, token, job.body.id as string)).runs[0]?.status).to.equal('cancelled');
  });
});

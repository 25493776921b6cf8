import { expect } from 'chai';
import type { RunningController } from '../../src/controller/index.js';
import type { Job } from '../../src/domain/model.js';
import { EV, type JobAck } from '../../src/protocol/events.js';
import { Fixtures } from '../helpers/fixtures.js';
import { connected, http, RawAgent, rawSocket, userToken, type RawSocket } from './support.js';

/**
 * Row 7 of the hostile-input issue: a viewer read the env values (`DB_PASSWORD=…`) of everyone's jobs. Env values are
 * shown to admins and the job's creator only (docs/architecture.md §7.9); the others see the names with `***`: over HTTP (show,
 * list, cancel) and on `/clients` (the subscribe ack, job_finished). Real users of each role, a real agent socket.
 */
describe('Who sees the env values of a job', function () {
  this.timeout(30_000);
  const fx = new Fixtures();
  const env = { DB_PASSWORD: 'hunter2-secret', MODE: 'fast' };
  const redacted = { DB_PASSWORD: '***', MODE: '***' };
  let controller: RunningController;
  let agent: RawAgent;
  /** The creator (an operator), another operator, a viewer and an admin. */
  const tokens: Record<'creator' | 'operator' | 'viewer' | 'admin', string> = {
    creator: '',
    operator: '',
    viewer: '',
    admin: '',
  };
  const sees = { creator: env, admin: env, operator: redacted, viewer: redacted };
  const roles = Object.keys(sees) as Array<keyof typeof sees>;

  const sockets: RawSocket[] = [];
  const clientOf = async (token: string) => {
    const socket = await connected(rawSocket(controller.url, '/clients', { token }));
    sockets.push(socket);
    return socket;
  };
  const ack = async (socket: RawSocket, event: string, payload: unknown) => {
    const answer = (await socket.timeout(5000).emitWithAck(event, payload)) as JobAck;
    if (!answer.ok) throw new Error(`${event}: ${answer.error} ${answer.message}`);
    return answer.job;
  };

  before(async () => {
    controller = await fx.controller();
    tokens.admin = await fx.adminToken(controller);
    tokens.creator = await userToken(controller, 'olga', 'operator');
    tokens.operator = await userToken(controller, 'oscar', 'operator');
    tokens.viewer = await userToken(controller, 'vera', 'viewer');
    agent = await RawAgent.connect(controller, 'db-1');
    fx.defer(() => agent.close());
  });

  after(async () => {
    for (const socket of sockets) socket.disconnect();
    await fx.cleanup();
  });

  it('over HTTP: show and cancel redact for a viewer and another operator; the list carries no env at all', async () => {
    const created = await http(controller.url, '/api/v1/jobs', {
      method: 'POST',
      token: tokens.creator,
      type: 'application/json',
      body: JSON.stringify({ command: 'psql -c "select 1"', target: ['db-1'], env }),
    });
    expect(created.status).to.equal(201);
    expect(created.body.env).to.deep.equal(env);
    const id = created.body.id as string;
    // The agent still gets the values it needs.
    expect((await agent.command(`${id}_0`)).env).to.deep.equal(env);

    for (const role of roles) {
      const shown = await http(controller.url, `/api/v1/jobs/${id}`, { token: tokens[role] });
      expect(shown.status, role).to.equal(200);
      expect(shown.body.env, role).to.deep.equal(sees[role]);
      const listed = await http(controller.url, '/api/v1/jobs?limit=5', { token: tokens[role] });
      expect(listed.status, role).to.equal(200);
      expect(listed.text, role).not.to.include('hunter2');
      expect((listed.body.jobs as Job[])[0])
        .to.include({ id })
        .and.not.to.have.property('env');
    }
    const cancelled = await http(controller.url, `/api/v1/jobs/${id}/cancel`, {
      method: 'POST',
      token: tokens.operator,
    });
    expect(cancelled.status).to.equal(200);
    expect(cancelled.body.env).to.deep.equal(redacted);
    expect(cancelled.text).not.to.include('hunter2');
  });

  it('on /clients: the subscribe ack and job_finished redact for a viewer and another operator', async () => {
    const creator = await clientOf(tokens.creator);
    const job = await ack(creator, EV.jobCreate, { command: 'psql -c "select 2"', target: ['db-1'], env });
    expect(job.env).to.deep.equal(env);
    const finished = new Map<string, Promise<Job>>();
    const listen = (role: string, socket: RawSocket) =>
      finished.set(
        role,
        new Promise((resolve) => socket.on(EV.jobFinished, (j: Job) => j.id === job.id && resolve(j))),
      );
    listen('creator', creator);
    for (const role of roles.filter((r) => r !== 'creator')) {
      const socket = await clientOf(tokens[role]);
      listen(role, socket);
      const subscribed = await ack(socket, EV.jobSubscribe, { jobId: job.id });
      expect(subscribed.env, role).to.deep.equal(sees[role]);
    }
    const runId = job.runs[0]?.id as string;
    await agent.command(runId);
    const at = new Date().toISOString();
    const result = { runId, status: 'succeeded', exitCode: 0, signal: null, startedAt: at, finishedAt: at };
    expect(await agent.emitWithAck(EV.commandResult, result)).to.deep.equal({ ok: true });
    for (const role of roles) {
      const last = await finished.get(role);
      expect(last?.status, role).to.equal('succeeded');
      expect(last?.env, role).to.deep.equal(sees[role]);
    }
  });
});

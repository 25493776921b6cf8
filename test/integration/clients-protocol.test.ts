import { expect } from 'chai';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunningController } from '../../src/controller/index.js';
import type { Job } from '../../src/domain/model.js';
import { EV } from '../../src/protocol/events.js';
import { Fixtures, waitFor } from '../helpers/fixtures.js';
import { connected, rawSocket, userToken, type RawSocket } from './support.js';

/** `/clients`: what a user's socket may send, and what a malformed request gets back. */
describe('/clients protocol (real Socket.IO on port 0)', () => {
  const fx = new Fixtures();
  let controller: RunningController;
  let dataDir: string;

  beforeEach(async () => {
    dataDir = await fx.tempDir();
    controller = await fx.controller({ dataDir });
    await fx.agent(controller, 'c-1');
  });
  afterEach(() => fx.cleanup());

  const client = async (token: string): Promise<RawSocket> => {
    const socket = await connected(rawSocket(controller.url, '/clients', { token }));
    fx.defer(() => void socket.disconnect());
    return socket;
  };
  const ask = (socket: RawSocket, event: string, payload: unknown) =>
    socket.timeout(5000).emitWithAck(event, payload) as Promise<
      { ok: true; job: Job } | { ok: false; error: string; message: string }
    >;

  it('answers malformed job_create and job_subscribe with {ok: false, error, message}, creating nothing', async () => {
    const socket = await client(await fx.adminToken(controller));
    const creates: unknown[] = [null, 'echo hi', [], { command: 'true' }, { command: 'true', target: ['!'] }];
    for (const payload of creates) {
      const ack = await ask(socket, EV.jobCreate, payload);
      expect(ack, JSON.stringify(payload)).to.deep.include({ ok: false, error: 'invalid_request' });
      expect(ack).to.have.property('message').that.is.a('string');
    }
    const noMatch = await ask(socket, EV.jobCreate, { command: 'true', target: ['nobody'] });
    expect(noMatch).to.deep.include({ ok: false, error: 'no_agents_matched' });
    for (const payload of [null, {}, { jobId: '../../users' }, { jobId: 5 }]) {
      expect(await ask(socket, EV.jobSubscribe, payload), JSON.stringify(payload)).to.deep.include({
        ok: false,
        error: 'invalid_request',
      });
    }
    expect(await ask(socket, EV.jobSubscribe, { jobId: 'j0unknown' })).to.deep.include({
      ok: false,
      error: 'not_found',
    });
    socket.emit(EV.jobUnsubscribe, 'garbage');
    socket.emit(EV.jobCreate, { command: 5 });
    socket.emit(EV.jobSubscribe);
    expect(await readdir(join(dataDir, 'jobs'))).to.deep.equal([]);

    // still working, on the same socket
    const ack = await ask(socket, EV.jobCreate, { command: 'echo fine', target: ['c-1'] });
    expect(ack.ok).to.equal(true);
    const id = ack.ok ? ack.job.id : '';
    const done = await waitFor(async () => {
      const job = await controller.jobs.get(id);
      return job.status !== 'running' && job;
    }, 'the job');
    expect(done.runs[0]).to.include({ status: 'succeeded', stdout: 'fine\n' });
  });

  it('lets a viewer follow a job but not create one', async () => {
    const viewer = await client(await userToken(controller, 'vik', 'viewer'));
    expect(await ask(viewer, EV.jobCreate, { command: 'true', target: [] })).to.deep.include({
      ok: false,
      error: 'forbidden',
    });
    const admin = await client(await fx.adminToken(controller));
    const created = await ask(admin, EV.jobCreate, { command: 'sleep 0.3; echo seen', target: [] });
    if (!created.ok) throw new Error(created.message);
    let finished: Job | undefined;
    viewer.on(EV.jobFinished, (job: Job) => (finished = job));
    const followed = await ask(viewer, EV.jobSubscribe, { jobId: created.job.id });
    if (!followed.ok) throw new Error(followed.message);
    // finished before the subscription: the ack holds the final document; else job_finished follows
    const job = followed.job.status === 'running' ? await waitFor(() => finished, 'job_finished') : followed.job;
    expect(job.runs[0]?.stdout).to.equal('seen\n');
  });
});

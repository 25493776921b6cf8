import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningController } from '../../src/controller/index.js';
import type { Job } from '../../src/domain/model.js';
import { EV, type JobAck } from '../../src/protocol/events.js';
import { STDIN_EV, type StdinAck, type StdinChunk } from '../../src/protocol/stdin.js';
import { Fixtures } from '../helpers/fixtures.js';
import { connected, finishedJob, RawAgent, rawSocket, userToken, type RawSocket } from './support.js';

/** The stdin events of docs/protocol.md §10 on a real controller with real agents. */
describe('stdin on the wire (real controller, real agents)', () => {
  const fx = new Fixtures();
  let controller: RunningController;
  let admin: string;

  beforeEach(async () => {
    controller = await fx.controller({ stdinResumeMs: 300 });
    admin = await fx.adminToken(controller);
  });
  afterEach(() => fx.cleanup());

  const client = async (token = admin) => {
    const socket = await connected(rawSocket(controller.url, '/clients', { token }));
    fx.defer(() => void socket.disconnect());
    return socket;
  };
  const create = async (socket: RawSocket, command: string, target: string[]) => {
    const ack = (await socket
      .timeout(5000)
      .emitWithAck(EV.jobCreate, { command, target, timeoutMs: 30_000, stdin: true })) as JobAck;
    if (!ack.ok) throw new Error(ack.message);
    return ack.job;
  };
  const send = (socket: RawSocket, jobId: string, offset: number, text: string) =>
    socket.timeout(5000).emitWithAck(STDIN_EV.data, { jobId, offset, data: Buffer.from(text) }) as Promise<StdinAck>;
  const end = (socket: RawSocket, jobId: string, size: number) =>
    socket.timeout(5000).emitWithAck(STDIN_EV.end, { jobId, size }) as Promise<StdinAck>;

  it('an agent that cannot take stdin (first release) gets a rejected run naming its version', async () => {
    const old = await RawAgent.connect(controller, 'old-1');
    fx.defer(() => old.close());
    await fx.agent(controller, 'new-1');
    const job = await create(await client(), 'cat', ['old-1,new-1']);
    const run = job.runs.find((r) => r.agent.name === 'old-1');
    expect(run?.status).to.equal('rejected');
    expect(run?.error).to.match(/^agent old-1 runs ogent \S+, which cannot take stdin: upgrade it$/);
    expect(old.commands).to.deep.equal([]);
  });

  it('an upload resumed on a new connection stores each byte once; its readers get all of it', async () => {
    await fx.agent(controller, 'r-1');
    const first = await client();
    const job = await create(first, 'cat', ['r-1']);
    expect(await send(first, job.id, 0, 'hello ')).to.deep.equal({ ok: true, size: 6 });
    first.disconnect();
    const second = await client();
    // The last piece again (its ack was lost), longer: only the new part is stored.
    expect(await send(second, job.id, 0, 'hello wor')).to.deep.equal({ ok: true, size: 9 });
    expect(await send(second, job.id, 9, 'ld\n')).to.deep.equal({ ok: true, size: 12 });
    const gap = await send(second, job.id, 20, 'x');
    expect(gap).to.include({ ok: false, error: 'stdin_gap', size: 12 });
    expect(await end(second, job.id, 12)).to.deep.equal({ ok: true, size: 12 });
    const done = await finishedJob(controller, admin, job.id);
    expect(done.runs[0]?.status).to.equal('succeeded');
    expect(done.runs[0]?.stdout).to.equal('hello world\n');
  });

  it('an upload not resumed in time fails the runs still reading it, never a silent end-of-file', async () => {
    await fx.agent(controller, 'cut-1');
    const socket = await client();
    const job = await create(socket, 'cat > /dev/null; echo read all', ['cut-1']);
    expect((await send(socket, job.id, 0, 'half of it')).ok).to.equal(true);
    socket.disconnect();
    const done = await finishedJob(controller, admin, job.id);
    expect(done.runs[0]?.status).to.equal('failed');
    expect(done.runs[0]?.error).to.match(/stdin upload interrupted/);
    expect(done.runs[0]?.stdout).to.equal('');
  });

  it("only the job's creator sends its stdin; only the run's agent reads it", async () => {
    await fx.agent(controller, 'own-1');
    const job = await create(await client(), 'cat', ['own-1']);
    const other = await client(await userToken(controller, 'op-2', 'operator'));
    expect(await send(other, job.id, 0, 'not yours')).to.include({ ok: false, error: 'forbidden' });
    const stranger = await RawAgent.connect(controller, 'stranger-1');
    fx.defer(() => stranger.close());
    const read = (await stranger.socket
      .timeout(5000)
      .emitWithAck(STDIN_EV.read, { runId: job.runs[0]?.id, offset: 0 })) as StdinChunk;
    expect(read).to.include({ ok: false, error: 'not_your_run' });
    const malformed = (await other.timeout(5000).emitWithAck(STDIN_EV.data, { jobId: job.id, offset: -1 })) as StdinAck;
    expect(malformed).to.include({ ok: false, error: 'invalid_request' });
  });

  it('a job without stdin gives its reader end-of-file; one that ended takes no more', async () => {
    await fx.agent(controller, 'e-1');
    const socket = await client();
    const job: Job = await create(socket, 'cat', ['e-1']);
    expect(await end(socket, job.id, 0)).to.deep.equal({ ok: true, size: 0 });
    const done = await finishedJob(controller, admin, job.id);
    expect(done.runs[0]?.status).to.equal('succeeded');
    expect(done.stdin).to.deep.equal({ bytes: 0, ended: true });
    expect(await send(socket, job.id, 0, 'late')).to.include({ ok: false, error: 'job_finished' });
  });

  it('retention removes a job with its stdin', async () => {
    const dataDir = await fx.tempDir();
    const kept = await fx.controller({ dataDir, retainJobs: 0 });
    controller = kept;
    admin = await fx.adminToken(kept);
    await fx.agent(kept, 'ret-1');
    const socket = await client();
    const job = await create(socket, 'cat', ['ret-1']);
    expect((await send(socket, job.id, 0, 'kept a while')).ok).to.equal(true);
    expect((await end(socket, job.id, 12)).ok).to.equal(true);
    await finishedJob(kept, admin, job.id);
    expect(existsSync(join(dataDir, 'stdin', job.id))).to.equal(true);
    expect(await kept.jobs.prune()).to.equal(1);
    expect(existsSync(join(dataDir, 'stdin', job.id))).to.equal(false);
    expect(existsSync(join(dataDir, 'stdin', `${job.id}.end`))).to.equal(false);
  });
});

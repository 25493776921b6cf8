import { expect } from 'chai';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunningController } from '../../src/controller/index.js';
import { login } from '../../src/client/http.js';
import { EV, LIMITS, type JobAck } from '../../src/protocol/events.js';
import { Fixtures, waitFor } from '../helpers/fixtures.js';
import {
  agentInfo,
  connected,
  createJob,
  getJob,
  http,
  RawAgent,
  rawSocket,
  userToken,
  type RawSocket,
} from './support.js';

/** Payload bounds on the wire (README, Security): what is over a bound is refused clearly and changes nothing. */
describe('Bounds on the wire (real server on port 0)', function () {
  const fx = new Fixtures();
  let controller: RunningController;
  let dataDir: string;
  let admin: string;
  let agent: RawAgent;

  beforeEach(async () => {
    dataDir = await fx.tempDir();
    controller = await fx.controller({ dataDir });
    admin = await fx.adminToken(controller);
    agent = await RawAgent.connect(controller, 'a-1');
    fx.defer(() => agent.close());
  });
  afterEach(() => fx.cleanup());

  const healthy = async () => expect((await http(controller.url, '/healthz')).status).to.equal(200);
  const post = (path: string, body: string, type = 'application/json', token: string | undefined = admin) =>
    http(controller.url, path, { method: 'POST', token, type, body });
  const closed = (socket: RawSocket) => new Promise<string>((resolve) => socket.once('disconnect', resolve));

  describe('REST bodies: at most 1 MiB, else 413 with a JSON error', () => {
    /** A JSON body of exactly `bytes` bytes. */
    const sized = (bytes: number, fields: Record<string, unknown>) => {
      const bare = JSON.stringify({ ...fields, pad: '' });
      return JSON.stringify({ ...fields, pad: 'x'.repeat(bytes - bare.length) });
    };

    for (const path of ['/token', '/api/v1/jobs', '/api/v1/users', '/api/v1/plans']) {
      it(`${path}: one byte over is 413 payload_too_large; at the limit the body is read`, async () => {
        const fields = path === '/token' ? { username: 'admin', password: 'x' } : { target: 'bad' };
        const over = await post(path, sized(LIMITS.maxBodyBytes + 1, fields));
        expect(over.status).to.equal(413);
        expect(over.body).to.deep.equal({
          error: 'payload_too_large',
          message: `request body is larger than ${LIMITS.maxBodyBytes} bytes`,
        });
        const at = await post(path, sized(LIMITS.maxBodyBytes, fields));
        expect(at.status, at.text.slice(0, 200)).to.equal(path === '/token' ? 401 : 400);
        await healthy();
      });
    }

    it('a form body over the limit is 413 too, and a much bigger one is read to the end and refused', async () => {
      const form = `username=admin&password=${'x'.repeat(LIMITS.maxBodyBytes)}`;
      expect((await post('/token', form, 'application/x-www-form-urlencoded')).status).to.equal(413);
      const huge = await post('/api/v1/jobs', JSON.stringify({ command: 'x'.repeat(8 * 1024 * 1024), target: [] }));
      expect(huge.status).to.equal(413);
      await healthy();
      expect(await readdir(join(dataDir, 'jobs'))).to.deep.equal([]);
    });
  });

  describe('Socket.IO messages: at most 1 MiB, else the connection is closed', () => {
    it('/agents: an oversized message closes that connection only; the agent can come back', async () => {
      const other = await RawAgent.connect(controller, 'a-2');
      fx.defer(() => other.close());
      const gone = closed(agent.socket);
      agent.socket.emit(EV.commandProgress, {
        runId: 'j1_0',
        seq: 1,
        stream: 'stdout',
        data: 'x'.repeat(LIMITS.maxHttpBufferSize + 1),
      });
      expect(await gone).to.match(/transport (close|error)/);
      await healthy();
      expect(other.socket.connected).to.equal(true);
      // the same agent reconnects and gets work again
      const token = (await login(controller.url, 'a-1', 'pw-a-1-123456')).access_token;
      const back = await connected(rawSocket(controller.url, '/agents', { token }));
      fx.defer(() => void back.disconnect());
      const ack = (await back.timeout(5000).emitWithAck(EV.agentInfo, agentInfo('a-1'))) as { ok: boolean };
      expect(ack.ok).to.equal(true);
      for (const name of ['a-1', 'a-2']) {
        const job = await createJob(controller, admin, { command: 'true', target: [name] });
        expect(
          job.runs.map((r) => r.status),
          name,
        ).to.deep.equal(['dispatched']);
      }
    });

    it('/clients: an oversized job_create closes the connection and creates nothing', async () => {
      const token = await userToken(controller, 'olga', 'operator');
      const socket = await connected(rawSocket(controller.url, '/clients', { token }));
      fx.defer(() => void socket.disconnect());
      const gone = closed(socket);
      socket.emit(EV.jobCreate, { command: 'x'.repeat(LIMITS.maxHttpBufferSize + 1), target: ['a-1'] }, () => {});
      expect(await gone).to.match(/transport (close|error)/);
      await healthy();
      expect(await readdir(join(dataDir, 'jobs'))).to.deep.equal([]);
      // a message just under the limit is read and answered (here: the command is too long)
      const again = await connected(rawSocket(controller.url, '/clients', { token }));
      fx.defer(() => void again.disconnect());
      const answer = (await again.timeout(10_000).emitWithAck(EV.jobCreate, {
        command: 'x'.repeat(LIMITS.maxHttpBufferSize - 1000),
        target: ['a-1'],
      })) as JobAck;
      expect(answer).to.deep.include({ ok: false, error: 'invalid_request' });
      expect(!answer.ok && answer.message).to.match(/^command must have at most 65536 characters/);
    });
  });

  describe('Payload bounds over the wire', () => {
    it('command_progress: a chunk at the limit is stored; one byte more is dropped (binary and string)', async () => {
      const job = await createJob(controller, admin, { command: 'cat big', target: ['a-1'] });
      const runId = job.runs[0]?.id ?? '';
      await agent.command(runId);
      const max = LIMITS.progressBytes;
      const send = (seq: number, data: string | Buffer) =>
        agent.socket.emit(EV.commandProgress, { runId, seq, stream: 'stdout', data });
      send(1, Buffer.alloc(max, 'a'));
      send(2, Buffer.alloc(max + 1, 'b'));
      send(3, 'c');
      send(4, 'd'.repeat(max + 1));
      send(5, Buffer.from('é'));
      const file = join(dataDir, 'output', job.id, `${runId}.stdout`);
      await waitFor(async () => (await stat(file).catch(() => undefined))?.size === max + 3, 'chunks 1, 3 and 5');
      const stored = await readFile(file, 'utf8');
      expect(stored.startsWith('a') && stored.endsWith('acé')).to.equal(true);
      expect(/[bd]/.test(stored)).to.equal(false);
      await waitFor(async () => (await getJob(controller, admin, job.id)).runs[0]?.stdoutBytes === max + 3, 'counted');
    });

    it('agent_info: 64 labels are taken, 65 refused with the reason, and the stored agent is unchanged', async () => {
      const before = await readFile(join(dataDir, 'agents.json'), 'utf8');
      const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']));
      const over = await agent.emitWithAck(EV.agentInfo, agentInfo('a-1', many(LIMITS.labels + 1)));
      expect(over).to.deep.equal({ ok: false, error: 'labels must have at most 64 entries' });
      const longValue = await agent.emitWithAck(EV.agentInfo, agentInfo('a-1', { k: 'v'.repeat(254) }));
      expect(longValue).to.deep.equal({ ok: false, error: 'labels.k must have at most 253 characters' });
      expect(await readFile(join(dataDir, 'agents.json'), 'utf8')).to.equal(before);
      const taken = await agent.emitWithAck(EV.agentInfo, agentInfo('a-1', many(LIMITS.labels)));
      expect(taken).to.deep.equal({ ok: true, held: ['labels'] });
      expect(Object.keys((await controller.agents.find('a-1')).pending?.labels ?? {})).to.have.length(64);
    });

    it('REST and job_create: a command one character over 64 KiB is 400, at 64 KiB the job is created', async () => {
      const over = await post('/api/v1/jobs', JSON.stringify({ command: 'x'.repeat(65_537), target: ['a-1'] }));
      expect(over.status).to.equal(400);
      expect(over.body.message).to.equal('command must have at most 65536 characters');
      const at = await post('/api/v1/jobs', JSON.stringify({ command: `: ${'x'.repeat(65_534)}`, target: ['a-1'] }));
      expect(at.status).to.equal(201);
      const token = await userToken(controller, 'olga', 'operator');
      const socket = await connected(rawSocket(controller.url, '/clients', { token }));
      fx.defer(() => void socket.disconnect());
      const answer = (await socket
        .timeout(5000)
        .emitWithAck(EV.jobCreate, { command: 'x'.repeat(65_537), target: ['a-1'] })) as JobAck;
      expect(answer).to.deep.include({ ok: false, error: 'invalid_request' });
      expect((await readdir(join(dataDir, 'jobs'))).length).to.equal(1);
    });

    it('POST /api/v1/users: a name over 63 characters and a password over 1024 are 400', async () => {
      for (const body of [
        { name: 'n'.repeat(64), role: 'viewer', password: 'long-enough-1' },
        { name: 'nina', role: 'viewer', password: 'p'.repeat(1025) },
      ]) {
        const res = await post('/api/v1/users', JSON.stringify(body));
        expect(res.status).to.equal(400);
        expect(res.body.error).to.equal('invalid_request');
      }
      const users = (await controller.auth.listUsers({ name: 'admin', role: 'admin' })).map((u) => u.name);
      expect(users).to.deep.equal(['admin', 'a-1']);
    });
  });
});

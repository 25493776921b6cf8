import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningController } from '../../src/controller/index.js';
import type { Job } from '../../src/domain/model.js';
import { EV, LIMITS, type CommandResult } from '../../src/protocol/events.js';
import { Fixtures, waitFor } from '../helpers/fixtures.js';
import { agentInfo, connected, createJob, finishedJob, getJob, http, rawSocket, RawAgent } from './support.js';

/** The `/agents` events of docs/protocol.md §4, driven by hand: what a buggy or hostile agent can and cannot do. */
describe('/agents protocol (real Socket.IO on port 0)', () => {
  const fx = new Fixtures();
  let controller: RunningController;
  let dataDir: string;
  let admin: string;

  beforeEach(async () => {
    dataDir = await fx.tempDir();
    controller = await fx.controller({ dataDir });
    admin = await fx.adminToken(controller);
  });
  afterEach(() => fx.cleanup());

  const raw = async (name: string, labels: Record<string, string> = {}) => {
    const agent = await RawAgent.connect(controller, name, labels);
    fx.defer(() => agent.close());
    return agent;
  };
  const result = (runId: string, over: Partial<CommandResult> = {}): CommandResult => ({
    runId,
    status: 'succeeded',
    exitCode: 0,
    signal: null,
    startedAt: new Date(Date.now() - 10).toISOString(),
    finishedAt: new Date().toISOString(),
    ...over,
  });
  /** A job on a real in-process agent still runs to the end: the controller kept working. */
  const stillWorks = async () => {
    await fx.agent(controller, 'real-1', { kind: 'real' });
    const job = await createJob(controller, admin, { command: 'echo still-here', target: ['kind=real'] });
    const done = await finishedJob(controller, admin, job.id);
    expect(done.status).to.equal('succeeded');
    expect(done.runs[0]?.stdout).to.equal('still-here\n');
  };

  describe('malformed payloads', () => {
    it('refuses malformed agent_info with an ack that says why, and keeps the agent unregistered', async () => {
      const agent = await raw('m-1');
      const bad: unknown[] = [
        null,
        'm-1',
        42,
        [],
        { ...agentInfo('m-1'), cpus: 'two' },
        { ...agentInfo('m-1'), memoryBytes: -1 },
        { ...agentInfo('m-1'), labels: { 'bad key': 'x' } },
        { ...agentInfo('m-1'), labels: { role: 'a,b' } },
        { ...agentInfo('m-1'), labels: 'role=web' },
        { ...agentInfo('m-1'), executors: 'shell' },
        { ...agentInfo('m-1'), hostname: 'h'.repeat(900_000) },
        { ...agentInfo('m-1'), name: 'someone-else' },
      ];
      for (const payload of bad) {
        const ack = await agent.emitWithAck(EV.agentInfo, payload);
        expect(ack.ok, JSON.stringify(payload).slice(0, 60)).to.equal(false);
        expect(ack.error).to.be.a('string');
      }
      const stored = (await controller.agents.list()).find((a) => a.name === 'm-1');
      expect(stored?.info?.hostname).to.equal('raw-host');
      expect(stored?.labels).to.deep.equal({});
      await stillWorks();
    });

    it('ignores malformed events without an ack callback, unknown events and oversized frames', async () => {
      const agent = await raw('m-2');
      agent.socket.emit(EV.agentInfo, { name: 5 });
      agent.socket.emit(EV.agentInfo, agentInfo('m-2', { changed: 'no-ack' }));
      agent.socket.emit(EV.commandResult, { runId: 5 });
      agent.socket.emit(EV.commandResult, result('j0nope_0'));
      agent.socket.emit(EV.commandProgress, 'garbage');
      agent.socket.emit(EV.commandProgress, { runId: 'j0nope_0', seq: 'one', stream: 'stdout', data: 'x' });
      agent.socket.emit('no_such_event', { x: 1 }, () => {});
      agent.socket.emit(EV.commandResult);
      // an agent_info without an ack is still applied (its new label held until an admin accepts it)
      await waitFor(
        async () =>
          (await controller.agents.list()).find((a) => a.name === 'm-2')?.pending?.labels?.changed === 'no-ack',
        'agent_info without ack to be applied',
      );
      // a frame above maxHttpBufferSize closes that connection only
      const dropped = new Promise((resolve) => agent.socket.once('disconnect', resolve));
      agent.socket.emit(EV.commandProgress, { runId: 'j0x_0', seq: 1, stream: 'stdout', data: 'x'.repeat(2_000_000) });
      expect(await dropped).to.be.a('string');
      const health = await http(controller.url, '/healthz');
      expect(health.status).to.equal(200);
      await stillWorks();
    });

    it('refuses command_result and ignores command_progress with wrong types, for a run it was sent', async () => {
      const agent = await raw('m-3');
      const job = await createJob(controller, admin, { command: 'echo hi', target: ['m-3'] });
      const runId = job.runs[0]?.id as string;
      await agent.command(runId);
      const badResults: unknown[] = [
        null,
        { ...result(runId), status: 'queued' },
        { ...result(runId), status: 'unreachable' },
        { ...result(runId), exitCode: '0' },
        { ...result(runId), exitCode: 256 },
        { ...result(runId), exitCode: 1.5 },
        { ...result(runId), signal: 9 },
        { ...result(runId), startedAt: 'yesterday' },
        { ...result(runId), startedAt: '2024-13-45T99:99:99Z' },
        { ...result(runId), finishedAt: 12 },
        { ...result(runId), runId: '../../etc/passwd' },
        { ...result(runId), error: 'e'.repeat(100_000) },
      ];
      for (const payload of badResults) {
        const ack = await agent.emitWithAck(EV.commandResult, payload);
        expect(ack.ok, JSON.stringify(payload).slice(-80)).to.equal(false);
        expect(ack.error).to.match(/^invalid_payload/);
      }
      const badProgress: unknown[] = [
        { runId, seq: 0, stream: 'stdout', data: 'zero\n' },
        { runId, seq: 1, stream: 'stdin', data: 'stdin\n' },
        { runId, seq: '1', stream: 'stdout', data: 'string seq\n' },
        { runId, seq: 1, stream: 'stdout', data: 42 },
        { runId, seq: 1.5, stream: 'stdout', data: 'half\n' },
        { runId, seq: 1, stream: 'stdout', data: 'd'.repeat(LIMITS.progressBytes + 1) },
        { runId, seq: 1, stream: 'stdout', data: Buffer.alloc(LIMITS.progressBytes + 1, 'e') },
        { runId, seq: 1, stream: 'stdout', data: { type: 'Buffer', data: [104, 105] } },
      ];
      for (const payload of badProgress) agent.socket.emit(EV.commandProgress, payload);
      agent.socket.emit(EV.commandProgress, { runId, seq: 1, stream: 'stdout', data: 'good\n' });
      expect(await agent.emitWithAck(EV.commandResult, result(runId))).to.deep.equal({ ok: true });
      const done = await getJob(controller, admin, job.id);
      expect(done.status).to.equal('succeeded');
      expect(done.runs[0]?.stdout).to.equal('good\n');
      expect(done.runs[0]?.durationMs).to.be.a('number');
      await stillWorks();
    });

    it('ignores output and refuses results for a run of another agent (not_your_run)', async () => {
      const owner = await raw('own-1');
      const intruder = await raw('bad-1');
      const job = await createJob(controller, admin, { command: 'echo mine', target: ['own-1'] });
      const runId = job.runs[0]?.id as string;
      await owner.command(runId);
      intruder.socket.emit(EV.commandProgress, { runId, seq: 1, stream: 'stdout', data: 'injected\n' });
      const refused = await intruder.emitWithAck(EV.commandResult, result(runId, { status: 'failed', exitCode: 66 }));
      expect(refused).to.deep.equal({ ok: false, error: 'not_your_run' });
      expect(await intruder.emitWithAck(EV.commandResult, result('j0nope_0'))).to.deep.equal({
        ok: false,
        error: 'unknown_run',
      });
      expect(intruder.commands).to.deep.equal([]);

      owner.socket.emit(EV.commandProgress, { runId, seq: 1, stream: 'stdout', data: 'mine\n' });
      expect(await owner.emitWithAck(EV.commandResult, result(runId))).to.deep.equal({ ok: true });
      const done = await getJob(controller, admin, job.id);
      expect(done.runs[0]).to.include({ status: 'succeeded', exitCode: 0, stdout: 'mine\n' });
      const file = await http(controller.url, `/api/v1/jobs/${job.id}/runs/${runId}/output`, { token: admin });
      expect(file.text).to.equal('mine\n');
    });
  });

  describe('command_result', () => {
    it('two results at once: when job_finished goes out, the stored job is the ended one (a GET at once sees it)', async () => {
      // The first result's write can be done while the second result, which ended the job, waits for the next one:
      // the job used to end then, and a GET on job_finished read the document without the second result.
      for (let round = 0; round < 12; round++) {
        const pair = `p${round}`;
        const agents = [await raw(`${pair}-a`, { pair }), await raw(`${pair}-b`, { pair })];
        const client = await connected(rawSocket(controller.url, '/clients', { token: admin }));
        fx.defer(() => void client.disconnect());
        let seen: Promise<Job> | undefined;
        client.on(EV.jobFinished, (job: Job) => (seen ??= getJob(controller, admin, job.id)));
        const ack = (await client.timeout(5000).emitWithAck(EV.jobCreate, {
          command: 'true',
          target: [`pair=${pair}`],
        })) as { ok: boolean; job: Job };
        const runs = ack.job.runs;
        await Promise.all(agents.map((a, i) => a.command(runs[i]?.id as string)));
        const acks = agents.map((a, i) => a.emitWithAck(EV.commandResult, result(runs[i]?.id as string)));
        const stored = await waitFor(() => seen, 'job_finished');
        expect(stored.status, `round ${round}`).to.equal('succeeded');
        expect(stored.runs.map((r) => r.status)).to.deep.equal(['succeeded', 'succeeded']);
        expect(await Promise.all(acks)).to.deep.equal([{ ok: true }, { ok: true }]);
      }
    });

    it('is applied once: a replayed or different result for a finished run changes nothing', async () => {
      const agent = await raw('once-1');
      const job = await createJob(controller, admin, { command: 'true', target: ['once-1'] });
      const runId = job.runs[0]?.id as string;
      await agent.command(runId);
      const first = result(runId);
      expect(await agent.emitWithAck(EV.commandResult, first)).to.deep.equal({ ok: true });
      const after = await getJob(controller, admin, job.id);
      // the same result again (a re-send after a reconnect) and a contradicting one: both acked, neither applied
      expect(await agent.emitWithAck(EV.commandResult, first)).to.deep.equal({ ok: true });
      const other = result(runId, {
        status: 'failed',
        exitCode: 3,
        finishedAt: new Date(Date.now() + 5000).toISOString(),
      });
      expect(await agent.emitWithAck(EV.commandResult, other)).to.deep.equal({ ok: true });
      const final = await getJob(controller, admin, job.id);
      expect(final).to.deep.equal(after);
      expect(final.runs[0]).to.include({ status: 'succeeded', exitCode: 0, finishedAt: first.finishedAt });
      expect(final.summary).to.include({ total: 1, succeeded: 1, failed: 0 });
    });

    it('is acknowledged only once it is in the job file on disk, duplicates included', async () => {
      const agent = await raw('disk-1');
      const second = await raw('disk-2');
      const job = await createJob(controller, admin, { command: 'true', target: ['disk-*'] });
      const [run1, run2] = job.runs as [Job['runs'][0], Job['runs'][0]];
      await agent.command(run1.id);
      await second.command(run2.id);
      const onDisk = () => JSON.parse(readFileSync(join(dataDir, 'jobs', `${job.id}.json`), 'utf8')) as Job;
      const seen: string[] = [];
      // each ack callback looks at the file the moment the ack arrives, synchronously
      const send = (a: RawAgent, r: CommandResult) =>
        new Promise<void>((resolve) => {
          a.socket.emit(EV.commandResult, r, (ack: { ok: boolean }) => {
            const run = onDisk().runs.find((x) => x.id === r.runId);
            seen.push(`${r.runId}:${ack.ok}:${run?.status}:${run?.exitCode}`);
            resolve();
          });
        });
      const r1 = result(run1.id, { status: 'failed', exitCode: 7 });
      const r2 = result(run2.id);
      // a burst: the first result, its duplicate before the first is persisted, and the other run's result
      await Promise.all([send(agent, r1), send(agent, r1), send(second, r2), send(second, r2)]);
      expect(seen.sort()).to.deep.equal(
        [
          `${run1.id}:true:failed:7`,
          `${run1.id}:true:failed:7`,
          `${run2.id}:true:succeeded:0`,
          `${run2.id}:true:succeeded:0`,
        ].sort(),
      );
      const final = onDisk();
      expect(final.status).to.equal('failed');
      expect(final.summary).to.include({ total: 2, succeeded: 1, failed: 1 });
    });

    it('output that arrives before the ack of execute_command still tells clients the run is running', async () => {
      const agent = await RawAgent.connect(controller, 'early-1', {}, { holdAcks: true });
      fx.defer(() => agent.close());
      const job = await createJob(controller, admin, { command: 'echo early', target: ['early-1'] });
      const runId = job.runs[0]?.id ?? '';
      await agent.command(runId);
      const client = await connected(rawSocket(controller.url, '/clients', { token: admin }));
      fx.defer(() => void client.disconnect());
      const statuses: string[] = [];
      client.on(EV.jobUpdate, (u: { run: { status: string } }) => statuses.push(u.run.status));
      expect(
        ((await client.timeout(5000).emitWithAck(EV.jobSubscribe, { jobId: job.id })) as { ok: boolean }).ok,
      ).to.equal(true);
      // In this order on the wire: the output first, then the ack (a busy agent's two packets in one read).
      agent.socket.emit(EV.commandProgress, { runId, seq: 1, stream: 'stdout', data: Buffer.from('early\n') });
      agent.accept(runId);
      await waitFor(() => statuses.includes('running'), 'a job_update saying the run is running');
      expect((await getJob(controller, admin, job.id)).runs[0]?.status).to.equal('running');
    });

    it('arrives after the output it follows: every chunk is stored before the result is applied', async () => {
      const agent = await raw('ord-1');
      const job = await createJob(controller, admin, { command: 'seq 500', target: ['ord-1'] });
      const runId = job.runs[0]?.id as string;
      await agent.command(runId);
      let expected = '';
      for (let seq = 1; seq <= 500; seq++) {
        const data = `line ${seq}\n`;
        expected += data;
        agent.socket.emit(EV.commandProgress, { runId, seq, stream: seq % 5 ? 'stdout' : 'stderr', data });
      }
      // a repeated chunk (a re-send after a reconnect) is dropped by its seq
      agent.socket.emit(EV.commandProgress, { runId, seq: 3, stream: 'stdout', data: 'line 3\n' });
      expect(await agent.emitWithAck(EV.commandResult, result(runId))).to.deep.equal({ ok: true });
      const done = await getJob(controller, admin, job.id);
      const lines = expected.split('\n').filter(Boolean);
      const want = (stream: 'stdout' | 'stderr') =>
        lines
          .filter((_, i) => ((i + 1) % 5 ? 'stdout' : 'stderr') === stream)
          .map((l) => `${l}\n`)
          .join('');
      expect(done.runs[0]?.stdout).to.equal(want('stdout'));
      expect(done.runs[0]?.stderr).to.equal(want('stderr'));
      expect(done.runs[0]?.seq).to.equal(500);
      expect(readFileSync(join(dataDir, 'output', job.id, `${runId}.stdout`), 'utf8')).to.equal(want('stdout'));
      expect(readFileSync(join(dataDir, 'output', job.id, `${runId}.stderr`), 'utf8')).to.equal(want('stderr'));
    });
  });
});

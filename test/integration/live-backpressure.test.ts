import { expect } from 'chai';
import { Writable } from 'node:stream';
import type { RunningController } from '../../src/controller/index.js';
import type { Job } from '../../src/domain/model.js';
import { JobStream } from '../../src/client/job-stream.js';
import { OUTPUT_BACKLOG_MAX, PlainRenderer } from '../../src/ui/plain.js';
import { EV } from '../../src/protocol/events.js';
import { Fixtures, waitFor } from '../helpers/fixtures.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { connected, rawSocket } from './support.js';

/** `seq 1 N` as the command prints it. */
const seqText = (n: number) => {
  const lines: string[] = [];
  for (let i = 1; i <= n; i++) lines.push(String(i));
  return `${lines.join('\n')}\n`;
};

/** Backpressure to live clients: a client that stops reading never makes the controller buffer without limit. */
describe('slow live clients (real controller, agent, sockets and a stalling TCP proxy)', function () {
  this.timeout(120_000);
  const fx = new Fixtures();
  const LIMIT = 512 * 1024;
  const LINES = 2_000_000; // 14.9 MB of output
  let controller: RunningController;
  let proxy: TcpProxy;
  let url: string;

  beforeEach(async () => {
    controller = await fx.controller({ clientBacklogBytes: LIMIT });
    await fx.agent(controller, 'bp-1');
    proxy = new TcpProxy(controller.port);
    url = await proxy.listen();
    fx.defer(() => proxy.close());
  });
  afterEach(() => fx.cleanup());

  /** Samples the controller's per-client backlog until `job` is finished in the controller; returns the largest. */
  const backlogWhileRunning = async (jobId: () => Promise<string | undefined>) => {
    let max = 0;
    await waitFor(
      async () => {
        for (const b of controller.clientBacklogs()) max = Math.max(max, b);
        const id = await jobId();
        return id !== undefined && (await controller.jobs.get(id)).status !== 'running';
      },
      'the job to finish in the controller',
      90_000,
    );
    return max;
  };

  it('stops sending live output to a client that does not read, and tells it to resync once', async () => {
    const token = await fx.adminToken(controller);
    const socket = await connected(rawSocket(url, '/clients', { token }));
    fx.defer(() => void socket.disconnect());
    const seqs: number[] = [];
    const resyncs: string[] = [];
    let finished: Job | undefined;
    socket.on(EV.commandProgress, (p: { seq: number }) => seqs.push(p.seq));
    socket.on(EV.jobResync, (n: { jobId: string }) => resyncs.push(n.jobId));
    socket.on(EV.jobFinished, (job: Job) => (finished = job));
    const ack = (await socket.timeout(5000).emitWithAck(EV.jobCreate, {
      command: `seq 1 ${LINES}`,
      target: ['bp-1'],
    })) as { ok: true; job: Job };
    expect(ack.ok).to.equal(true);
    proxy.stall('down');

    const max = await backlogWhileRunning(async () => ack.job.id);
    const job = await controller.jobs.get(ack.job.id);
    expect(job.status).to.equal('succeeded');
    expect(job.runs[0]?.stdoutBytes).to.equal(Buffer.byteLength(seqText(LINES)));
    // Bounded by the limit, plus the chunk that crossed it and the small job events after it; not the 15 MB.
    expect(max).to.be.at.most(LIMIT + 1024 * 1024);

    proxy.release('down');
    await waitFor(() => finished, 'job_finished to reach the client', 30_000);
    expect(resyncs).to.deep.equal([ack.job.id]);
    // What it did get live is the output's beginning, in order, with nothing missing.
    expect(seqs.length).to.be.greaterThan(0);
    expect(seqs).to.deep.equal(seqs.map((_, i) => i + 1));
    expect(seqs.length).to.be.lessThan(job.runs[0]?.seq ?? 0);
  });

  it('gives a slow exec client every byte in order once it reads again (resync from the stored output)', async () => {
    const token = await fx.adminToken(controller);
    const stream = new JobStream(
      { controller: url, token: () => Promise.resolve(token) },
      {
        output: (_agent, _runId, s, data) => {
          if (s === 'stdout') out.push(data);
          if (out.length === 1) proxy.stall('down');
        },
        // What was printed when the run was told to have ended: a renderer flushes its last line then.
        runStatus: (run) => {
          if (run.status === 'succeeded') printedAtEnd = out.join('').length;
        },
      },
    );
    const out: string[] = [];
    let printedAtEnd = -1;
    let jobId: string | undefined;
    const followed = stream.create({
      command: `seq 1 ${LINES}`,
      target: ['bp-1'],
      executor: 'shell',
      timeoutMs: 60_000,
    });
    const max = await backlogWhileRunning(async () => (jobId ??= (await controller.jobs.list(1))[0]?.id));
    expect(max).to.be.at.most(LIMIT + 1024 * 1024);
    proxy.release('down');
    const job = await followed;
    expect(job.status).to.equal('succeeded');
    const text = out.join('');
    expect(text.length).to.equal(Buffer.byteLength(seqText(LINES)));
    expect(text === seqText(LINES), 'the output, byte for byte, in order').to.equal(true);
    expect(printedAtEnd, 'every byte printed before the run ends').to.equal(text.length);
    // The catch-up read only what the client had not printed: from its offset, not the whole output again.
    const http = proxy.connections.filter((c) => c.requests.some((r) => r.includes(' /api/')));
    const reads = http.flatMap((c) => c.requests).filter((r) => /\/output\?/.test(r));
    expect(reads.length, 'stored output was read').to.be.greaterThan(0);
    const offsets = reads.map((r) => Number(/[?&]offset=(\d+)/.exec(r)?.[1] ?? 0));
    expect(Math.min(...offsets), reads.join(', ')).to.be.greaterThan(0);
    // Every HTTP answer together (job documents and output): less than what was left to print, plus some slack.
    const downloaded = http.reduce((sum, c) => sum + c.bytesDown, 0);
    expect(downloaded).to.be.at.most(text.length - Math.min(...offsets) + 512 * 1024);
  });

  it('an exec whose stdout is slow stops reading the controller: its unwritten output stays bounded, and whole', async () => {
    const token = await fx.adminToken(controller);
    // A pipe that takes nothing for 3 s, then 64 KiB every 2 ms: what `exec ... | slow-reader` writes into.
    const taken: Buffer[] = [];
    let most = 0;
    const opened = Date.now();
    const stdout = new Writable({
      highWaterMark: 64 * 1024,
      write(chunk: Buffer, _enc, done) {
        taken.push(chunk);
        setTimeout(done, Date.now() - opened < 3000 ? 3000 - (Date.now() - opened) : 2);
      },
    });
    const stderr = new Writable({ write: (_c, _e, done) => done() });
    const renderer = new PlainRenderer(stdout, stderr);
    const sample = setInterval(() => (most = Math.max(most, stdout.writableLength)), 5);
    fx.defer(() => clearInterval(sample));
    const job = await new JobStream({ controller: url, token: () => Promise.resolve(token) }, renderer).create({
      command: `seq 1 ${LINES}`,
      target: ['bp-1'],
      executor: 'shell',
      timeoutMs: 60_000,
    });
    await new Promise<void>((resolve) => stdout.end(resolve));
    expect(job.status).to.equal('succeeded');
    // Bounded: the limit plus what was already on its way when reading stopped (one chunk, socket buffers).
    expect(most).to.be.at.most(OUTPUT_BACKLOG_MAX + 2 * 1024 * 1024);
    const text = Buffer.concat(taken).toString();
    const want = seqText(LINES).replace(/^/gm, 'bp-1: ').slice(0, -'bp-1: '.length);
    expect(text.length).to.equal(want.length);
    expect(text === want, 'every line once, in order').to.equal(true);
  });
});

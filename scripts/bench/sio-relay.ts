/**
 * The floor of `stream`: socket.io alone relaying a command's output, in three processes as ogent does it (agent →
 * controller → client), without ogent's storage, acks, spool or document. `relay`: a socket.io server that sends
 * every `command_progress` it gets on /agents to the clients in a room of /clients. `producer URL MODE SIZE`: runs
 * `yes LINE | head -c SIZE` and sends its output in the agent's chunks (256 KiB, pausing the pipe while
 * socket.io's write buffer is long, with the agent's zero WebSocket mask on loopback), as strings (`text`, what ogent
 * sent before 2026-11-27) or as binary attachments (`binary`, what it sends now).
 * `consumer URL SIZE`: joins the room, writes what it gets to stdout, and prints `{t1}` on stderr at the last byte.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { io } from 'socket.io-client';
import { LIMITS } from '../../src/protocol/events.js';
import { wsTransports } from '../../src/lib/ws-transport.js';

const LINE = 'x'.repeat(99);
const FLUSH_BYTES = LIMITS.chunkBytes;
const BACKLOG_PACKETS = 16;

function relay() {
  const http = createServer();
  const server = new Server(http, { maxHttpBufferSize: LIMITS.maxHttpBufferSize });
  server.of('/clients').on('connection', (socket) => void socket.join('job'));
  server.of('/agents').on('connection', (socket) => {
    socket.on('command_progress', (p: { runId: string; seq: number; stream: string; data: string | Buffer }) => {
      server
        .of('/clients')
        .to('job')
        .emit('command_progress', { ...p, jobId: 'job', agent: 'relay-1' });
    });
  });
  http.listen(0, '127.0.0.1', () => {
    process.stdout.write(`listening on http://127.0.0.1:${(http.address() as { port: number }).port}\n`);
  });
  process.on('SIGTERM', () => process.exit(0));
}

function producer(url: string, mode: 'text' | 'binary', size: number) {
  const socket = io(`${url}/agents`, { transports: wsTransports(url) });
  socket.on('connect', () => {
    process.stdout.write('connected\n');
    process.stdin.once('data', () => {
      const t0 = performance.timeOrigin + performance.now();
      process.stderr.write(`${JSON.stringify({ t0 })}\n`);
      const child = spawn('sh', ['-c', `yes ${LINE} | head -c ${size}`], { stdio: ['ignore', 'pipe', 'ignore'] });
      if (mode === 'text') child.stdout.setEncoding('utf8');
      let seq = 0;
      let queue: Array<string | Buffer> = [];
      let queued = 0;
      const flush = () => {
        if (!queue.length) return;
        const data = mode === 'text' ? queue.join('') : Buffer.concat(queue as Buffer[]);
        socket.emit('command_progress', { runId: 'job_0', seq: ++seq, stream: 'stdout', data });
        queue = [];
        queued = 0;
        if (socket.io.engine.writeBuffer.length > BACKLOG_PACKETS) {
          child.stdout.pause();
          socket.io.engine.once('drain', () => child.stdout.resume());
        }
      };
      child.stdout.on('data', (d: string | Buffer) => {
        queue.push(d);
        queued += d.length;
        if (queued >= FLUSH_BYTES) flush();
      });
      child.stdout.on('end', flush);
    });
  });
}

function consumer(url: string, size: number) {
  const socket = io(`${url}/clients`, { transports: wsTransports(url) });
  let got = 0;
  socket.on('connect', () => process.stderr.write('connected\n'));
  socket.on('command_progress', (p: { data: string | Buffer }) => {
    const bytes = typeof p.data === 'string' ? Buffer.byteLength(p.data) : p.data.length;
    got += bytes;
    process.stdout.write(p.data);
    if (got >= size) {
      process.stderr.write(`${JSON.stringify({ t1: performance.timeOrigin + performance.now(), got })}\n`);
      process.stdout.write('', () => process.exit(0));
    }
  });
}

const [role, ...args] = process.argv.slice(2);
if (role === 'relay') relay();
else if (role === 'producer') producer(args[0] as string, args[1] as 'text' | 'binary', Number(args[2]));
else if (role === 'consumer') consumer(args[0] as string, Number(args[1]));
else throw new Error(`unknown role ${role}`);

import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import fc from 'fast-check';
import type { RunningController } from '../../src/controller/index.js';
import {
  agentInfoCheck,
  commandProgressCheck,
  commandResultCheck,
  EV,
  jobIdPayloadCheck,
  jobRequestCheck,
  LIMITS,
  type JobAck,
} from '../../src/protocol/events.js';
import { parse, type Check } from '../../src/protocol/validate.js';
import { passwordCheck, userCheck } from '../../src/controller/infrastructure/http/api.js';
import type { Job } from '../../src/domain/model.js';
import { newId } from '../../src/domain/ids.js';
import { login } from '../../src/client/http.js';
import { Fixtures, waitFor } from '../helpers/fixtures.js';
import { agentInfo, connected, createJob, RawAgent, rawSocket, userToken, type RawSocket } from './support.js';

/**
 * Fuzzing (fast-check): 1,000 generated payloads for every socket event and every REST body — arbitrary JSON, wrong
 * types, huge strings, `__proto__`/`constructor` keys, and valid payloads with fields broken. The controller answers
 * each with a validation error (or ignores it), never crashes or answers 500, and invalid input changes nothing in its
 * data dir. One controller for the whole suite, a few sockets.
 */
const RUNS = 1000;
/** Messages stay under the 1 MiB socket limit (going over it closes the connection: test/integration/bounds.test.ts). */
const MAX_MESSAGE = 300_000;

const protoKey = fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty');
const key = fc.oneof({ weight: 3, arbitrary: fc.string({ maxLength: 12 }) }, { weight: 1, arbitrary: protoKey });
const tricky = fc.constantFrom(
  '',
  ' ',
  '../../../etc/passwd',
  '..%2F..%2Fusers',
  '\u0000',
  'j0_0',
  'a-1',
  '*',
  '!a-1',
  'role=web',
  '25%',
  '-1',
  '1e309',
  '__proto__',
  '{"__proto__":{"polluted":1}}',
  '\ud800',
  '😀'.repeat(100),
);
/** Around the bounds that matter (64 KiB commands and arguments, 256 Ki-character chunks), and a bit past them. */
const huge = fc
  .oneof(fc.integer({ min: 250, max: 5000 }), fc.constantFrom(4097, 32 * 1024 + 1, 65_537, 262_145))
  .map((n) => 'x'.repeat(n));
const leaf = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 3, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.double() },
  { weight: 1, arbitrary: fc.constantFrom(0, -1, 1.5, Number.MAX_SAFE_INTEGER + 2, 1e308) },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 2, arbitrary: tricky },
  { weight: 1, arbitrary: huge },
);
let emitted = 0;
const { value } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('value'), { maxLength: 6 }),
    fc.dictionary(key, tie('value'), { maxKeys: 6, noNullPrototype: true }),
  ),
}));

/** A valid payload with fields dropped or replaced and extra (prototype) keys added. */
const mutated = (template: Record<string, unknown>) => {
  const fields = Object.keys(template);
  return fc
    .record({
      drop: fc.subarray(fields),
      replace: fc.dictionary(fc.constantFrom(...fields), value, { maxKeys: 3, noNullPrototype: true }),
      extra: fc.dictionary(key, value, { maxKeys: 3, noNullPrototype: true }),
    })
    .map(({ drop, replace, extra }) => {
      const out: Record<string, unknown> = { ...template };
      for (const f of drop) delete out[f];
      for (const [k, v] of Object.entries({ ...replace, ...extra })) {
        Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
      }
      return out;
    });
};
const payloads = (template: Record<string, unknown>) =>
  fc
    .oneof({ weight: 1, arbitrary: value }, { weight: 2, arbitrary: mutated(template) })
    .filter((p) => JSON.stringify(p ?? null).length < MAX_MESSAGE);

const accepts = (check: Check<unknown>, v: unknown) => {
  try {
    parse(check, v);
    return true;
  } catch {
    return false;
  }
};

/** Every file of the data dir with a hash of its content (the lock file and the audit log aside). */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string) => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.name !== 'controller.lock' && entry.name !== 'audit.log') {
        out[relative(dir, path)] = createHash('sha256')
          .update(await readFile(path))
          .digest('hex');
      }
    }
  };
  await walk(dir);
  return out;
}

interface Answer {
  status: number;
  body: { error?: unknown; message?: unknown };
}

describe('Fuzzing every socket event and REST body (fast-check, 1,000 payloads each)', function () {
  this.timeout(120_000);
  const fx = new Fixtures();
  let controller: RunningController;
  let dataDir: string;
  let admin: string;
  let agent: RawAgent;
  let client: RawSocket;
  let job: Job;
  let runId: string;
  let filesBefore: Record<string, string>;
  let auditBefore: string;
  let jobBefore: string;
  const prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort();
  const keepAlive = new Agent({ keepAlive: true, maxSockets: 4 });

  /** A raw POST/PUT over a kept-alive connection, from a chosen loopback address. */
  const send = (method: string, path: string, text: string, token?: string, from = '127.0.0.1', type?: string) =>
    new Promise<Answer>((resolve, reject) => {
      const { hostname, port } = new URL(controller.url);
      const headers: Record<string, string | number> = {
        'content-type': type ?? 'application/json',
        'content-length': Buffer.byteLength(text),
      };
      if (token) headers.authorization = `Bearer ${token}`;
      const req = httpRequest(
        { host: hostname, port, path, method, headers, agent: keepAlive, localAddress: from },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => {
            try {
              resolve({ status: res.statusCode ?? 0, body: JSON.parse(body) as Answer['body'] });
            } catch {
              reject(new Error(`not JSON (${res.statusCode}): ${body.slice(0, 200)}`));
            }
          });
        },
      );
      req.on('error', reject);
      req.end(text);
    });

  before(async () => {
    dataDir = await fx.tempDir();
    controller = await fx.controller({ dataDir });
    admin = await fx.adminToken(controller);
    await controller.auth.addUser({ name: 'admin', role: 'admin' }, 'olga', 'operator', 'olga-password-1');
    agent = await RawAgent.connect(controller, 'a-1', { role: 'web' });
    fx.defer(() => agent.close());
    job = await createJob(controller, admin, { command: 'sleep 600', target: ['a-1'], timeoutMs: 3_600_000 });
    runId = job.runs[0]?.id ?? '';
    await agent.command(runId);
    agent.socket.emit(EV.commandProgress, { runId, seq: 1, stream: 'stdout', data: 'started\n' });
    const token = await userToken(controller, 'fuzzer', 'admin');
    client = await connected(rawSocket(controller.url, '/clients', { token }));
    fx.defer(() => void client.disconnect());
    // the chunk is stored, the document written: from here on, nothing may change
    await waitFor(async () => (await controller.jobs.get(job.id)).runs[0]?.stdout === 'started\n', 'the chunk');
    await controller.jobs.flush();
    filesBefore = await snapshot(dataDir);
    auditBefore = await readFile(join(dataDir, 'audit.log'), 'utf8');
    jobBefore = JSON.stringify(await controller.jobs.get(job.id));
  });

  after(async () => {
    keepAlive.destroy();
    await fx.cleanup();
  });

  const ackOf = async (socket: RawSocket, event: string, payload: unknown) =>
    (await socket.timeout(10_000).emitWithAck(event, payload)) as { ok: boolean; error?: unknown };

  describe('/agents', () => {
    const now = new Date().toISOString();
    it('agent_info: every invalid payload is refused in its ack', async () => {
      await fc.assert(
        fc.asyncProperty(
          payloads({ ...agentInfo('a-1', { role: 'web' }) }).filter(
            (p) => !(accepts(agentInfoCheck, p) && (p as { name?: unknown }).name === 'a-1'),
          ),
          async (p) => {
            const ack = await ackOf(agent.socket, EV.agentInfo, p);
            expect(ack.ok).to.equal(false);
            expect(ack.error).to.be.a('string');
          },
        ),
        { numRuns: RUNS },
      );
    });

    it('command_progress: every invalid payload is ignored', async () => {
      await fc.assert(
        fc.asyncProperty(
          payloads({ runId, seq: 2, stream: 'stdout', data: 'x' }).filter((p) => !accepts(commandProgressCheck, p)),
          async (p) => {
            agent.socket.emit(EV.commandProgress, p);
            // now and then a round trip, so the messages do not pile up unread
            if (++emitted % 20 === 0) expect((await ackOf(agent.socket, EV.agentInfo, null)).ok).to.equal(false);
          },
        ),
        { numRuns: RUNS },
      );
      // an acknowledged event after them: the controller has handled them all by then
      expect((await ackOf(agent.socket, EV.agentInfo, null)).ok).to.equal(false);
      expect(agent.socket.connected).to.equal(true);
    });

    it('command_result: every invalid payload is refused in its ack', async () => {
      const template = { runId, status: 'succeeded', exitCode: 0, signal: null, startedAt: now, finishedAt: now };
      await fc.assert(
        fc.asyncProperty(
          payloads(template).filter((p) => !accepts(commandResultCheck, p)),
          async (p) => {
            const ack = await ackOf(agent.socket, EV.commandResult, p);
            expect(ack.ok).to.equal(false);
            expect(ack.error)
              .to.be.a('string')
              .and.match(/^invalid_payload: /);
          },
        ),
        { numRuns: RUNS },
      );
    });
  });

  describe('/clients', () => {
    it('job_create: every invalid payload is refused in its ack', async () => {
      await fc.assert(
        fc.asyncProperty(
          payloads({ command: 'true', target: ['a-1'], env: { A: 'b' }, maxErrors: '10%' }).filter(
            (p) => !accepts(jobRequestCheck, p),
          ),
          async (p) => {
            const ack = (await ackOf(client, EV.jobCreate, p)) as JobAck;
            expect(ack).to.deep.include({ ok: false, error: 'invalid_request' });
          },
        ),
        { numRuns: RUNS },
      );
    });

    it('job_subscribe: every payload gets an answer; only a valid known job id subscribes', async () => {
      await fc.assert(
        fc.asyncProperty(payloads({ jobId: job.id }), async (p) => {
          const ack = (await ackOf(client, EV.jobSubscribe, p)) as JobAck;
          const valid = accepts(jobIdPayloadCheck, p) && (p as { jobId: string }).jobId === job.id;
          expect(ack.ok).to.equal(valid);
          if (!ack.ok) expect(ack.error).to.be.oneOf(['invalid_request', 'not_found']);
        }),
        { numRuns: RUNS },
      );
    });

    it('job_unsubscribe: every payload is taken without an answer, and the socket stays usable', async () => {
      await fc.assert(
        fc.asyncProperty(payloads({ jobId: job.id }), async (p) => {
          client.emit(EV.jobUnsubscribe, p);
          if (++emitted % 20 === 0) expect((await ackOf(client, EV.jobSubscribe, null)).ok).to.equal(false);
        }),
        { numRuns: RUNS },
      );
      expect((await ackOf(client, EV.jobSubscribe, { jobId: job.id })).ok).to.equal(true);
    });
  });

  describe('REST bodies', () => {
    /** JSON text of a generated payload, or text that is not JSON at all. */
    const bodies = (template: Record<string, unknown>) =>
      fc.oneof(
        { weight: 5, arbitrary: payloads(template).map((p) => JSON.stringify(p ?? null)) },
        { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
        { weight: 1, arbitrary: fc.constantFrom('{', '[1,', '{"a":}', 'nul', '\u0000', '{"__proto__":') },
      );
    /** What readBody makes of the text: `{}` when empty, else the JSON (undefined when it is not JSON). */
    const parsed = (text: string): unknown => {
      if (text === '') return {};
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return undefined;
      }
    };
    const cases: Array<{
      name: string;
      method: string;
      path: () => string;
      template: Record<string, unknown>;
      /** Valid bodies that would change the store are left out. */
      skip?: (body: unknown) => boolean;
      statuses: number[];
      from?: string;
      token?: () => string | undefined;
    }> = [
      {
        name: 'POST /token',
        method: 'POST',
        path: () => '/token',
        template: { username: 'admin', password: 'not-the-password' },
        statuses: [400, 401, 429],
        // its own address, so the failures it makes do not rate-limit the rest of the suite
        from: '127.0.0.9',
        token: () => undefined,
      },
      {
        name: 'POST /api/v1/jobs',
        method: 'POST',
        path: () => '/api/v1/jobs',
        template: { command: 'true', target: ['a-1'], timeoutMs: 1000, args: ['a'], via: ['a-1'] },
        skip: (b) => accepts(jobRequestCheck, b),
        statuses: [400],
      },
      {
        name: 'POST /api/v1/users',
        method: 'POST',
        path: () => '/api/v1/users',
        template: { name: 'nina', role: 'viewer', password: 'nina-password-1' },
        skip: (b) => accepts(userCheck, b),
        statuses: [400],
      },
      {
        name: 'PUT /api/v1/users/:name/password',
        method: 'PUT',
        path: () => '/api/v1/users/olga/password',
        template: { password: 'olga-password-2' },
        skip: (b) => accepts(passwordCheck, b),
        statuses: [400],
      },
      {
        name: 'POST /api/v1/plans',
        method: 'POST',
        path: () => '/api/v1/plans',
        template: { mode: 'generate', request: 'hi', job: { target: ['a-1'] } },
        // valid ones reach the AI, which this controller does not have: 501, nothing kept
        statuses: [400, 501],
      },
      {
        name: 'POST /api/v1/plans/:id/run',
        method: 'POST',
        path: () => '/api/v1/plans/p0nope/run',
        template: { confirmedWith: 'yes', allowHighRisk: false },
        statuses: [400, 404],
      },
      {
        name: 'POST /api/v1/jobs/:id/cancel (a body it ignores, on an unknown job)',
        method: 'POST',
        path: () => '/api/v1/jobs/j0nope/cancel',
        template: { force: true },
        statuses: [404],
      },
    ];

    for (const c of cases) {
      it(`${c.name}: ${RUNS} bodies, each answered ${c.statuses.join(' or ')} with {error, message}`, async () => {
        const token = c.token ? c.token() : admin;
        await fc.assert(
          fc.asyncProperty(
            bodies(c.template).filter((text) => !c.skip?.(parsed(text))),
            async (text) => {
              const res = await send(c.method, c.path(), text, token, c.from);
              expect(res.status, text.slice(0, 200)).to.be.oneOf(c.statuses);
              expect(res.body.error).to.be.a('string');
              expect(res.body.message).to.be.a('string');
            },
          ),
          { numRuns: RUNS },
        );
      });
    }

    it(`POST /api/v1/jobs with ${RUNS} globs of up to 1,024 characters matching nothing: 422 each`, async () => {
      // `Z` at the end: no agent name or id holds one, so nothing is created.
      const glob = fc
        .string({ unit: fc.constantFrom('*', '?', '*?', 'a', '-', '1'), maxLength: LIMITS.selectorChars - 1 })
        .map((s) => `${s.slice(0, LIMITS.selectorChars - 1)}Z`);
      await fc.assert(
        fc.asyncProperty(fc.array(glob, { minLength: 1, maxLength: 3 }), async (target) => {
          const res = await send('POST', '/api/v1/jobs', JSON.stringify({ command: 'true', target }), admin);
          expect(res.status, target.join(' ')).to.equal(422);
          expect(res.body.error).to.equal('no_agents_matched');
        }),
        { numRuns: RUNS },
      );
    });

    it(`POST /api/v1/jobs with a NUL byte in a process field: ${RUNS} bodies, each 400 naming the field`, async () => {
      const withNul = fc
        .tuple(fc.string({ maxLength: 20 }), fc.string({ maxLength: 20 }))
        .map(([a, b]) => `${a}\0${b}`);
      const bodies = fc.oneof(
        withNul.map((s) => ({ field: 'command', body: { command: s } })),
        withNul.map((s) => ({ field: 'args[1]', body: { executor: 'exec', args: ['echo', s] } })),
        withNul.map((s) => ({ field: 'env.V', body: { command: 'true', env: { V: s } } })),
        withNul.map((s) => ({ field: 'cwd', body: { command: 'true', cwd: s } })),
        withNul.map((s) => ({
          field: 'scriptName',
          body: { executor: 'script', script: '#!/bin/sh\n', scriptName: s },
        })),
      );
      await fc.assert(
        fc.asyncProperty(bodies, async ({ field, body }) => {
          const res = await send('POST', '/api/v1/jobs', JSON.stringify({ target: ['a-1'], ...body }), admin);
          expect(res.status).to.equal(400);
          expect(res.body.message).to.match(new RegExp(`^${field.replace(/[[\].]/g, '\\$&')} must not contain a NUL`));
        }),
        { numRuns: RUNS },
      );
    });

    it('POST /token with form bodies: 400, 401 or 429, never more', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.dictionary(fc.oneof(key, fc.constantFrom('username', 'password')), fc.oneof(fc.string(), huge), {
            maxKeys: 4,
          }),
          async (fields) => {
            const text = new URLSearchParams(fields as Record<string, string>).toString();
            const res = await send('POST', '/token', text, undefined, '127.0.0.9', 'application/x-www-form-urlencoded');
            expect(res.status).to.be.oneOf([400, 401, 413, 429]);
          },
        ),
        { numRuns: RUNS },
      );
    });
  });

  describe('afterwards', () => {
    it('nothing in the data dir changed, nor the running job, nor Object.prototype', async () => {
      await controller.jobs.flush();
      expect(await snapshot(dataDir)).to.deep.equal(filesBefore);
      // The audit log records every failed login by design (docs/architecture.md §7): that, and only that, may have been added.
      const audit = await readFile(join(dataDir, 'audit.log'), 'utf8');
      expect(audit.startsWith(auditBefore)).to.equal(true);
      const added = audit.slice(auditBefore.length).split('\n').filter(Boolean);
      for (const line of added) {
        const entry = JSON.parse(line) as { action: string; ok: boolean };
        expect([entry.action, entry.ok], line.slice(0, 200)).to.deep.equal(['login_failed', false]);
      }
      expect(JSON.stringify(await controller.jobs.get(job.id))).to.equal(jobBefore);
      expect(Object.getOwnPropertyNames(Object.prototype).sort()).to.deep.equal(prototypeBefore);
      expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
    });

    it('the controller still answers /healthz and valid requests, on REST and both namespaces', async () => {
      expect((await send('GET', '/healthz', '')).status).to.equal(200);
      const created = await send('POST', '/api/v1/jobs', JSON.stringify({ command: 'true', target: ['a-1'] }), admin);
      expect(created.status).to.equal(201);
      const ack = (await ackOf(client, EV.jobCreate, { command: 'true', target: ['a-1'] })) as JobAck;
      expect(ack.ok).to.equal(true);
      const now = new Date().toISOString();
      const result = { runId, status: 'succeeded', exitCode: 0, signal: null, startedAt: now, finishedAt: now };
      expect(await ackOf(agent.socket, EV.commandResult, result)).to.deep.equal({ ok: true });
      const done = await controller.jobs.get(job.id);
      expect(done.runs[0]).to.include({ status: 'succeeded', stdout: 'started\n' });
    });
  });
});

/**
 * Row 2 of the hostile-input issue: a viewer's `GET /api/v1/jobs?limit=1000` over many large jobs built the whole
 * list as one JSON string past V8's limit (2^29 - 24 characters), and the RangeError, thrown outside the router's
 * error handling, ended the controller (in process, as here, the request was never answered). Each job has a 30
 * K-character command, 720 KB of env and 8 runs with 64 Ki characters of stdout and of stderr that JSON escapes to 6
 * bytes each: about 7 MB of JSON a job, 90 of them.
 */
describe('List and show routes over many large jobs (GET /api/v1/jobs, GET /api/v1/jobs/:id)', function () {
  this.timeout(180_000);
  const AGENTS = 8;
  const JOBS = 90;
  /** V8's longest string (String::kMaxLength on 64-bit). */
  const MAX_STRING = 2 ** 29 - 24;
  const fx = new Fixtures();
  let controller: RunningController;
  let dataDir: string;
  let viewer: string;
  const ids: string[] = [];
  const command = `echo ${'c'.repeat(30_000)}`;
  const env = Object.fromEntries(Array.from({ length: 24 }, (_, i) => [`SECRET_${i}`, `v${i}`.repeat(10_000)]));

  const get = async (path: string, token = viewer) => {
    // Bounded: before the fix the list request was never answered.
    const res = await fetch(`${controller.url}${path}`, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(60_000),
    });
    const text = await res.text();
    return { status: res.status, text, body: JSON.parse(text) as Record<string, unknown> };
  };
  const briefKeys = [
    'id',
    'command',
    'commandTruncated',
    'executor',
    'target',
    'targetTruncated',
    'status',
    'createdBy',
    'createdAt',
    'finishedAt',
    'summary',
  ];
  const expectBrief = (brief: Record<string, unknown>) => {
    expect(Object.keys(brief)).to.satisfy((keys: string[]) => keys.every((k) => briefKeys.includes(k)));
    expect(brief.command).to.be.a('string').with.length.at.most(256);
    expect(ids).to.include(brief.id);
    expect(brief).to.include({ commandTruncated: true, status: 'succeeded', createdBy: 'admin' });
    expect(brief.summary).to.include({ total: AGENTS, succeeded: AGENTS });
  };
  /** The show route's path for `id`, or undefined when the URL would not reach it (`.`, `..`, a lone surrogate). */
  const showPath = (id: string) => {
    try {
      const path = `/api/v1/jobs/${encodeURIComponent(id)}`;
      return id !== '' && new URL(path, 'http://x').pathname === path ? path : undefined;
    } catch {
      return undefined;
    }
  };

  before(async () => {
    dataDir = await fx.tempDir();
    // One job made the real way: created over HTTP, its 8 runs' output and results sent by agents.
    const first = await fx.controller({ dataDir });
    const admin = await fx.adminToken(first);
    await userToken(first, 'vera', 'viewer');
    const agents: RawAgent[] = [];
    for (let i = 1; i <= AGENTS; i++) agents.push(await RawAgent.connect(first, `big-${i}`));
    const created = await postJob(first.url, admin, { command, target: ['big-*'], env });
    await Promise.all(
      created.runs.map(async (run) => {
        const agent = agents.find((a) => a.name === run.agent.name) as RawAgent;
        await agent.command(run.id);
        for (const [seq, stream] of [
          [1, 'stdout'],
          [2, 'stderr'],
        ] as const) {
          agent.socket.emit(EV.commandProgress, { runId: run.id, seq, stream, data: Buffer.alloc(64 * 1024, seq) });
        }
        const at = new Date().toISOString();
        const result = { runId: run.id, status: 'succeeded', exitCode: 0, signal: null, startedAt: at, finishedAt: at };
        expect(await agent.socket.timeout(60_000).emitWithAck(EV.commandResult, result)).to.deep.equal({ ok: true });
      }),
    );
    agents.forEach((a) => a.close());
    await first.close();
    // The rest are copies of its document under new ids (writing 90 such jobs through the API took minutes).
    const text = await readFile(join(dataDir, 'jobs', `${created.id}.json`), 'utf8');
    ids.push(created.id);
    for (let i = 1; i < JOBS; i++) {
      const id = newId('j', Date.parse(created.createdAt) + i);
      await writeFile(join(dataDir, 'jobs', `${id}.json`), text.replaceAll(created.id, id));
      ids.push(id);
    }
    controller = await fx.controller({ dataDir });
    viewer = (await login(controller.url, 'vera', 'pw-vera-123456')).access_token;
  });

  after(() => fx.cleanup());

  it('the jobs together are more JSON than one string can hold, and a job is shown whole', async () => {
    const sizes = await Promise.all(ids.map(async (id) => (await stat(join(dataDir, 'jobs', `${id}.json`))).size));
    expect(sizes.reduce((a, b) => a + b, 0)).to.be.above(MAX_STRING);
    const res = await get(`/api/v1/jobs/${ids[0]}`);
    expect(res.status).to.equal(200);
    const job = res.body as unknown as Job;
    expect(job.runs).to.have.length(AGENTS);
    for (const run of job.runs) expect([run.stdout.length, run.stderr.length]).to.deep.equal([65_536, 65_536]);
  });

  it('GET /api/v1/jobs?limit=1000 as a viewer: 200 with one bounded brief a job, and the controller lives on', async () => {
    const res = await get('/api/v1/jobs?limit=1000');
    expect(res.status).to.equal(200);
    const jobs = res.body.jobs as Array<Record<string, unknown>>;
    expect(jobs.map((j) => j.id)).to.deep.equal([...ids].reverse());
    jobs.forEach(expectBrief);
    expect(res.text.length).to.be.below(JOBS * 2048);
    expect((await get('/healthz')).body).to.include({ status: 'ok' });
  });

  it('fuzzed limit and before: 200 with at most limit briefs, newest first, or 400 {error, message}', async () => {
    await fc.assert(
      fc.asyncProperty(
        // Mostly small pages (each list reads its jobs from the store), now and then all of them or past the cap.
        fc.oneof(
          { weight: 4, arbitrary: fc.integer({ min: -3, max: 12 }).map(String) },
          { weight: 1, arbitrary: fc.integer({ min: 13, max: 1500 }).map(String) },
          { weight: 1, arbitrary: fc.constantFrom('', '1e3', '10.5', 'x', '1001') },
        ),
        fc.option(fc.oneof(fc.constantFrom(...ids), fc.string({ maxLength: 70 }))),
        async (limit, before) => {
          const q = new URLSearchParams({ limit, ...(before === null ? {} : { before }) });
          const res = await get(`/api/v1/jobs?${q}`);
          const n = Number(limit);
          // As Number() reads it: `1e3` is 1000.
          const valid =
            limit !== '' && Number.isInteger(n) && n >= 1 && n <= 1000 && (before === null || before.length <= 64);
          if (!valid) {
            expect(res.status).to.equal(400);
            expect(res.body.error).to.be.a('string');
            expect(res.body.message).to.be.a('string');
            return;
          }
          expect(res.status).to.equal(200);
          const jobs = res.body.jobs as Array<Record<string, unknown>>;
          const older = [...ids].reverse().filter((id) => before === null || id < before);
          expect(jobs.map((j) => j.id)).to.deep.equal(older.slice(0, n));
          jobs.forEach(expectBrief);
        },
      ),
      { numRuns: 25 },
    );
    expect((await get('/healthz')).body).to.include({ status: 'ok' });
  });

  it('fuzzed job ids on the show route: 200 with the job, or 404/400 {error, message}', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .oneof(
            { weight: 1, arbitrary: fc.constantFrom(...ids) },
            { weight: 8, arbitrary: fc.oneof(fc.string({ maxLength: 80 }), tricky) },
          )
          .filter((id) => showPath(id) !== undefined),
        async (id) => {
          const res = await get(showPath(id) as string);
          if (ids.includes(id)) {
            expect(res.status).to.equal(200);
            expect(res.body.id).to.equal(id);
          } else {
            expect(res.status).to.be.oneOf([400, 404]);
            expect(res.body.error).to.be.a('string');
            expect(res.body.message).to.be.a('string');
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});

/** POST /api/v1/jobs with a body the support helper does not type (env). */
async function postJob(url: string, token: string, body: Record<string, unknown>): Promise<Job> {
  const res = await fetch(`${url}/api/v1/jobs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`POST job: ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text) as Job;
}

import { expect } from 'chai';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunningController } from '../../src/controller/index.js';
import { ADMIN_PASSWORD, Fixtures } from '../helpers/fixtures.js';
import { createJob, http, RawAgent, userToken } from './support.js';

describe('HTTP API (real server on port 0)', () => {
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

  const stillServing = async () => {
    const res = await http(controller.url, '/healthz');
    expect(res.status).to.equal(200);
    expect(res.body.status).to.equal('ok');
  };

  describe('POST /token', () => {
    it('accepts a form body and answers the OAuth2 shape', async () => {
      const res = await http(controller.url, '/token', {
        method: 'POST',
        type: 'application/x-www-form-urlencoded',
        body: new URLSearchParams({ username: 'admin', password: ADMIN_PASSWORD }).toString(),
      });
      expect(res.status).to.equal(200);
      expect(res.body).to.have.keys('access_token', 'token_type', 'expires_in', 'refresh_token', 'refresh_expires_in');
      expect(res.body.token_type).to.equal('bearer');
      expect(res.body.expires_in).to.equal(3600);
      expect(res.body.access_token)
        .to.be.a('string')
        .and.match(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    });

    it('accepts a JSON body, and the token opens the API', async () => {
      const res = await http(controller.url, '/token', {
        method: 'POST',
        type: 'application/json; charset=utf-8',
        body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
      });
      expect(res.status).to.equal(200);
      expect(res.body.token_type).to.equal('bearer');
      const agents = await http(controller.url, '/api/v1/agents', { token: res.body.access_token as string });
      expect(agents.status).to.equal(200);
      expect(agents.body).to.deep.equal({ agents: [] });
    });

    it('refuses a wrong password or an unknown user with 401 invalid_grant', async () => {
      for (const [username, password] of [
        ['admin', 'wrong-password'],
        ['nobody', ADMIN_PASSWORD],
      ]) {
        const res = await http(controller.url, '/token', {
          method: 'POST',
          type: 'application/json',
          body: JSON.stringify({ username, password }),
        });
        expect(res.status, username).to.equal(401);
        expect(res.body.error).to.equal('invalid_grant');
        expect(res.body).to.not.have.property('access_token');
      }
    });

    it('answers 429 with retry-after once a user has failed too often, even with the right password', async () => {
      const attempt = (password: string) =>
        fetch(`${controller.url}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: 'admin', password }),
        });
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++) statuses.push((await attempt('wrong-password')).status);
      expect(statuses.slice(0, 10)).to.deep.equal(Array(10).fill(401));
      expect(statuses.slice(10)).to.deep.equal([429, 429]);
      const blocked = await attempt(ADMIN_PASSWORD);
      expect(blocked.status).to.equal(429);
      expect(Number(blocked.headers.get('retry-after'))).to.be.greaterThan(0);
      expect(((await blocked.json()) as { error: string }).error).to.equal('too_many_requests');
    });

    it('does not count successful logins against the limit (cron jobs and agents log in often)', async () => {
      for (let i = 0; i < 40; i++) {
        const res = await http(controller.url, '/token', {
          method: 'POST',
          type: 'application/json',
          body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
        });
        expect(res.status, `login ${i + 1}`).to.equal(200);
      }
    });

    it('answers 400 to malformed login bodies', async () => {
      const bodies: Array<[string, string]> = [
        ['application/json', '{"username": "admin"'],
        ['application/json', '[]'],
        ['application/json', 'null'],
        ['application/json', '"admin"'],
        ['application/json', JSON.stringify({ username: 5, password: 'x' })],
        ['application/json', JSON.stringify({ username: 'admin', password: { $ne: '' } })],
        ['application/json', JSON.stringify({ username: 'a'.repeat(129), password: 'x' })],
        ['application/x-www-form-urlencoded', 'username=admin'],
        ['application/x-www-form-urlencoded', ''],
      ];
      for (const [type, body] of bodies) {
        const res = await http(controller.url, '/token', { method: 'POST', type, body });
        expect(res.status, body).to.equal(400);
        expect(res.body, body).to.have.keys('error', 'message');
      }
      await stillServing();
    });
  });

  describe('REST', () => {
    it('answers 400 {error, message} to every malformed job body and keeps running', async () => {
      const bad: unknown[] = [
        'not json',
        null,
        [],
        42,
        {},
        { command: 'true' },
        { command: '', target: [] },
        { command: 5, target: [] },
        { command: 'true', target: 'web-1' },
        { command: 'true', target: [''] },
        { command: 'true', target: [5] },
        { command: 'true', target: ['!'] },
        { command: 'true', target: ['role='] },
        { command: 'true', target: [], executor: 'telnet' },
        { command: 'true', target: [], timeoutMs: 0 },
        { command: 'true', target: [], timeoutMs: 'soon' },
        { command: 'true', target: [], timeoutMs: 1.5 },
        { command: 'true', target: [], env: { 'BAD-KEY': 'x' } },
        { command: 'true', target: [], env: { OK: 5 } },
        { command: 'x'.repeat(64 * 1024 + 1), target: [] },
        { command: 'true', target: Array(65).fill('web-*') },
      ];
      for (const body of bad) {
        const res = await http(controller.url, '/api/v1/jobs', {
          method: 'POST',
          token: admin,
          type: 'application/json',
          body: typeof body === 'string' ? body : JSON.stringify(body),
        });
        const what = JSON.stringify(body).slice(0, 80);
        expect(res.status, what).to.equal(400);
        expect(res.body, what).to.have.keys('error', 'message');
        expect(res.body.error, what).to.equal('invalid_request');
      }
      await stillServing();
      expect(await readdir(join(dataDir, 'jobs'))).to.deep.equal([]);
    });

    it('answers 400 naming the field to a NUL byte in a command, argument, variable or directory', async () => {
      const agent = await RawAgent.connect(controller, 'a-1');
      fx.defer(() => agent.close());
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ command: 'echo a\0b' }, 'command'],
        [{ executor: 'exec', args: ['echo', 'a\0b'] }, 'args[1]'],
        [{ command: 'true', env: { A: 'a\0b' } }, 'env.A'],
        [{ command: 'true', cwd: '/tmp\0x' }, 'cwd'],
        [{ executor: 'script', script: '#!/bin/sh\n', scriptName: 'a\0b' }, 'scriptName'],
      ];
      for (const [fields, field] of cases) {
        const res = await http(controller.url, '/api/v1/jobs', {
          method: 'POST',
          token: admin,
          type: 'application/json',
          body: JSON.stringify({ target: ['a-1'], ...fields }),
        });
        expect(res.status, field).to.equal(400);
        expect(res.body).to.deep.equal({
          error: 'invalid_request',
          message: `${field} must not contain a NUL byte: no process argument, variable or path can hold one`,
        });
      }
      await stillServing();
      expect(await readdir(join(dataDir, 'jobs'))).to.deep.equal([]);
      expect(agent.commands).to.deep.equal([]);
    });

    it('answers 400 to malformed queries, parameters and user bodies', async () => {
      const cases: Array<{ method?: string; path: string; body?: unknown }> = [
        { path: '/api/v1/jobs?limit=abc' },
        { path: '/api/v1/jobs?limit=0' },
        { path: '/api/v1/jobs?limit=1.5' },
        { path: '/api/v1/jobs?limit=100000' },
        { path: `/api/v1/jobs?before=${'x'.repeat(65)}` },
        { path: '/api/v1/jobs/%E0%A4%A' },
        { path: '/api/v1/agents/%zz' },
        { method: 'POST', path: '/api/v1/users', body: { name: 'bob' } },
        { method: 'POST', path: '/api/v1/users', body: { name: 'bob', role: 'superuser' } },
        { method: 'POST', path: '/api/v1/users', body: { name: '../bob', role: 'viewer' } },
        { method: 'POST', path: '/api/v1/users', body: { name: 'bob', role: 'viewer', password: 'short' } },
        { method: 'POST', path: '/api/v1/users', body: { name: 'bob', role: 'viewer', password: 12345678 } },
        { method: 'PUT', path: '/api/v1/users/admin/password', body: { password: ['x'] } },
        { method: 'PUT', path: '/api/v1/users/admin/password', body: 'nope' },
      ];
      for (const c of cases) {
        const res = await http(controller.url, c.path, {
          method: c.method ?? 'GET',
          token: admin,
          type: 'application/json',
          body: c.body === undefined ? undefined : typeof c.body === 'string' ? c.body : JSON.stringify(c.body),
        });
        const what = `${c.method ?? 'GET'} ${c.path} ${JSON.stringify(c.body)}`;
        expect(res.status, what).to.equal(400);
        expect(res.body, what).to.have.keys('error', 'message');
      }
      await stillServing();
    });

    it('refuses a body larger than 1 MiB with 413 and a JSON answer', async () => {
      const res = await http(controller.url, '/api/v1/jobs', {
        method: 'POST',
        token: admin,
        type: 'application/json',
        body: JSON.stringify({ command: 'x'.repeat(2 * 1024 * 1024), target: [] }),
      });
      expect(res.status).to.equal(413);
      expect(res.body).to.have.keys('error', 'message');
      await stillServing();
    });

    it('answers 404 to an unknown route, job, run or agent, and 405 to a wrong method', async () => {
      for (const path of ['/nope', '/api/v1/nope', '/api/v1/jobs/j0nope', '/api/v1/agents/ghost']) {
        const res = await http(controller.url, path, { token: admin });
        expect(res.status, path).to.equal(404);
        expect(res.body, path).to.have.keys('error', 'message');
      }
      const output = await http(controller.url, '/api/v1/jobs/..%2F..%2Fusers/runs/x/output', { token: admin });
      expect(output.status).to.equal(404);
      const wrong = await http(controller.url, '/healthz', { method: 'DELETE' });
      expect(wrong.status).to.equal(405);
      expect(wrong.body).to.have.keys('error', 'message');
    });

    it('asks for a bearer token under /api and refuses a forged one', async () => {
      const none = await http(controller.url, '/api/v1/jobs');
      expect(none.status).to.equal(401);
      expect(none.body).to.have.keys('error', 'message');
      const [head, payload] = admin.split('.');
      const forged = await http(controller.url, '/api/v1/jobs', { token: `${head}.${payload}.AAAA` });
      expect(forged.status).to.equal(401);
      expect(forged.body.error).to.equal('invalid_token');
    });

    it('lets a viewer read but not create or cancel jobs (403), and an agent identity not at all', async () => {
      const viewer = await userToken(controller, 'vera', 'viewer');
      expect((await http(controller.url, '/api/v1/jobs', { token: viewer })).status).to.equal(200);
      const create = await http(controller.url, '/api/v1/jobs', {
        method: 'POST',
        token: viewer,
        type: 'application/json',
        body: JSON.stringify({ command: 'true', target: [] }),
      });
      expect(create.status).to.equal(403);
      expect(create.body.error).to.equal('forbidden');
      const users = await http(controller.url, '/api/v1/users', { token: viewer });
      expect(users.status).to.equal(403);
      const agent = await userToken(controller, 'a-1', 'agent');
      expect((await http(controller.url, '/api/v1/jobs', { token: agent })).status).to.equal(403);
      expect(await readdir(join(dataDir, 'jobs'))).to.deep.equal([]);
    });

    it('answers 422 when the selector matches no agent, and persists nothing', async () => {
      const agent = await RawAgent.connect(controller, 'web-1', { role: 'web' });
      fx.defer(() => agent.close());
      for (const target of [['db-*'], ['role=db'], ['web-*', '!web-1']]) {
        const res = await http(controller.url, '/api/v1/jobs', {
          method: 'POST',
          token: admin,
          type: 'application/json',
          body: JSON.stringify({ command: 'true', target }),
        });
        expect(res.status, target.join(' ')).to.equal(422);
        expect(res.body.error).to.equal('no_agents_matched');
        expect(res.body.message).to.be.a('string');
      }
      expect(await readdir(join(dataDir, 'jobs'))).to.deep.equal([]);
      expect((await http(controller.url, '/api/v1/jobs', { token: admin })).body).to.deep.equal({ jobs: [] });
      expect(agent.commands).to.deep.equal([]);
      // and a matching one is created
      const job = await createJob(controller, admin, { command: 'true', target: ['role=web'] });
      expect(job.runs.map((r) => r.agent.name)).to.deep.equal(['web-1']);
    });
  });
});

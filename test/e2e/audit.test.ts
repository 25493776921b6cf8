import { spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { request } from '../../src/client/http.js';
import type { RunningController } from '../../src/controller/index.js';
import type { AuditEntry, Job } from '../../src/domain/model.js';
import { BIN, runCli } from '../helpers/cli.js';
import { ADMIN } from '../helpers/executor-helpers.js';
import { ADMIN_PASSWORD, Fixtures, waitFor } from '../helpers/fixtures.js';
import { adminToken, createAgentUsers, freePort, startSwarm } from '../helpers/processes.js';

describe('audit log (ogent audit, GET /api/v1/audit, audit.log)', function () {
  this.timeout(120_000);
  const fx = new Fixtures();
  let controller: RunningController;
  let dataDir: string;

  before(async () => {
    dataDir = await fx.tempDir('ogent-audit-');
    controller = await fx.controller({ dataDir });
    await fx.agent(controller, 'aud-1');
    await controller.auth.addUser(ADMIN, 'watcher', 'viewer', 'viewer-password-1');
    await controller.auth.addUser(ADMIN, 'runner', 'operator', 'operator-password-1');
  });
  after(() => fx.cleanup());

  const as = (username: string, password: string) => ({
    env: { OGENT_CONTROLLER: controller.url, OGENT_USERNAME: username, OGENT_PASSWORD: password },
  });
  const admin = (args: string[]) => runCli(args, as('admin', ADMIN_PASSWORD));

  it('records a failed login, a login, a job, a cancel, user add/passwd/remove: who, from where, what, agents, when', async () => {
    const started = new Date().toISOString();
    const failed = await runCli(['jobs', 'list'], as('admin', 'wrong-password-1'));
    expect(failed.code).to.equal(3);

    const ran = await admin(['exec', '-t', 'aud-1', '--json', '--', 'echo audited']);
    expect(ran.code, ran.stderr).to.equal(0);
    const ranJob = JSON.parse(ran.stdout) as Job;

    const slow = await admin(['exec', '-t', 'aud-1', '--async', '--json', '--', 'sleep 30']);
    expect(slow.code, slow.stderr).to.equal(0);
    const slowId = (JSON.parse(slow.stdout) as { id: string }).id;
    const cancelled = await admin(['jobs', 'cancel', slowId]);
    expect(cancelled.code, cancelled.stderr).to.equal(0);

    expect((await admin(['users', 'add', 'temp-user', '--role', 'viewer'])).code).to.equal(0);
    expect((await admin(['users', 'passwd', 'temp-user', '--generate'])).code).to.equal(0);
    expect((await admin(['users', 'remove', 'temp-user'])).code).to.equal(0);

    const res = await admin(['audit', '--json', '--since', started]);
    expect(res.code, res.stderr).to.equal(0);
    const entries = (JSON.parse(res.stdout) as { entries: AuditEntry[] }).entries;
    for (const e of entries) {
      expect(e.at >= started, JSON.stringify(e)).to.equal(true);
      expect(Number.isNaN(Date.parse(e.at))).to.equal(false);
    }
    const one = (action: string, pred: (e: AuditEntry) => boolean = () => true) => {
      const found = entries.filter((e) => e.action === action && pred(e));
      expect(found, `${action} in ${JSON.stringify(entries, null, 1)}`).to.have.length.greaterThan(0);
      return found[0] as AuditEntry;
    };
    const fromLoopback = (e: AuditEntry) => expect(e.from).to.match(/^(::ffff:)?127\.0\.0\.1$/);

    const loginFailed = one('login_failed');
    expect(loginFailed).to.include({ actor: 'admin', ok: false });
    fromLoopback(loginFailed);
    const login = one('login');
    expect(login).to.include({ actor: 'admin', ok: true });
    fromLoopback(login);

    const created = one('job_create', (e) => e.jobId === ranJob.id);
    expect(created).to.include({ actor: 'admin', ok: true });
    expect(created.agents).to.deep.equal(['aud-1']);
    expect(created.detail).to.equal('shell: echo audited');
    fromLoopback(created);

    const cancel = one('job_cancel', (e) => e.jobId === slowId);
    expect(cancel).to.include({ actor: 'admin', ok: true });
    expect(cancel.agents).to.deep.equal(['aud-1']);
    fromLoopback(cancel);
    // The cancel comes after the job it cancels.
    expect(entries.indexOf(cancel)).to.be.greaterThan(entries.indexOf(one('job_create', (e) => e.jobId === slowId)));

    expect(one('user_add', (e) => e.target === 'temp-user')).to.include({ actor: 'admin', detail: 'role viewer' });
    fromLoopback(one('user_passwd', (e) => e.target === 'temp-user'));
    expect(one('user_remove', (e) => e.target === 'temp-user')).to.include({ actor: 'admin', ok: true });

    // The text form has the same rows.
    const text = await admin(['audit', '--since', started, '--action', 'job_create']);
    expect(text.code, text.stderr).to.equal(0);
    expect(text.stdout).to.match(/^AT +ACTOR +FROM +ACTION +OK/);
    expect(text.stdout).to.include(ranJob.id);
    expect(text.stdout).not.to.include('login_failed');
  });

  it('--action, --limit and --since filter; a bad --since is a usage error', async () => {
    const logins = JSON.parse((await admin(['audit', '--json', '--action', 'login'])).stdout) as {
      entries: AuditEntry[];
    };
    expect(logins.entries.length).to.be.greaterThan(1);
    expect(logins.entries.every((e) => e.action === 'login')).to.equal(true);
    const last = JSON.parse((await admin(['audit', '--json', '--action', 'login', '--limit', '1'])).stdout) as {
      entries: AuditEntry[];
    };
    expect(last.entries).to.have.length(1);
    // The newest one, after the earlier list's last (that list's own login came before it).
    expect((last.entries[0]?.at ?? '') >= (logins.entries.at(-1)?.at ?? 'z')).to.equal(true);
    const future = JSON.parse((await admin(['audit', '--json', '--since', '2999-01-01T00:00:00Z'])).stdout) as {
      entries: AuditEntry[];
    };
    expect(future.entries).to.deep.equal([]);
    const recent = JSON.parse((await admin(['audit', '--json', '--since', '1h'])).stdout) as {
      entries: AuditEntry[];
    };
    expect(recent.entries.some((e) => e.action === 'job_create')).to.equal(true);
    const bad = await admin(['audit', '--since', 'yesterday']);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.include('invalid --since "yesterday"');
  });

  it('a viewer or an operator gets 403 (exit 3), and the API refuses a bad query with 400', async () => {
    for (const [user, password] of [
      ['watcher', 'viewer-password-1'],
      ['runner', 'operator-password-1'],
    ] as const) {
      const res = await runCli(['audit'], as(user, password));
      expect(res.code, `${user}: ${res.stderr}`).to.equal(3);
      expect(res.stderr).to.include('cannot read the audit log');
      const token = (
        await request<{ access_token: string }>(controller.url, '/token', {
          method: 'POST',
          body: { username: user, password },
        })
      ).body.access_token;
      const api = await request<{ error: string }>(controller.url, '/api/v1/audit', { token });
      expect(api.status).to.equal(403);
      expect(api.body.error).to.equal('forbidden');
    }
    const token = await fx.adminToken(controller);
    const since = await request<{ error: string; message: string }>(controller.url, '/api/v1/audit?since=nope', {
      token,
    });
    expect(since.status).to.equal(400);
    expect(since.body.message).to.include('since must be an ISO 8601 time');
    const limit = await request<{ error: string }>(controller.url, '/api/v1/audit?limit=0', { token });
    expect(limit.status).to.equal(400);
    const anonymous = await request(controller.url, '/api/v1/audit');
    expect(anonymous.status).to.equal(401);
  });

  it('audit.log is mode 0600, JSON lines, one entry per line, in the data dir', async () => {
    const file = join(dataDir, 'audit.log');
    expect((await stat(file)).mode & 0o777).to.equal(0o600);
    const text = await readFile(file, 'utf8');
    expect(text.endsWith('\n')).to.equal(true);
    const lines = text.trimEnd().split('\n');
    expect(lines.length).to.be.greaterThan(5);
    for (const line of lines) {
      const entry = JSON.parse(line) as AuditEntry;
      const fields = ['at', 'actor', 'from', 'action', 'ok', 'jobId', 'agents', 'target', 'detail'];
      expect(Object.keys(entry).filter((k) => !fields.includes(k))).to.deep.equal([]);
      expect(entry.at).to.be.a('string');
      expect(entry.actor).to.be.a('string');
      expect(entry.action).to.match(/^[a-z_]+$/);
    }
    expect(text).not.to.include(ADMIN_PASSWORD);
  });

  it('records an agent removal', async () => {
    const res = await admin(['agents', 'remove', 'aud-1']);
    expect(res.code, res.stderr).to.equal(0);
    const entries = (await controller.audit.read(ADMIN, { action: 'agent_remove' })).filter((e) =>
      e.agents?.includes('aud-1'),
    );
    expect(entries).to.have.length(1);
    expect(entries[0]).to.include({ actor: 'admin', ok: true });
  });
});

describe('audit log on a full disk', function () {
  this.timeout(120_000);
  const fx = new Fixtures();
  after(() => fx.cleanup());

  it('refuses job creation with 503 when the audit log cannot be written, logs the error for logins, and recovers', async () => {
    const root = await fx.tempDir('ogent-audit-full-');
    const data = join(root, 'small');
    const port = await freePort();
    // The controller runs in its own mount namespace with its data dir on a 4 MiB tmpfs that the test fills up.
    const script = `mkdir -p ${data} && mount -t tmpfs -o size=4m tmpfs ${data} && exec "$0" "$@"`;
    const child = spawn(
      'unshare',
      ['-m', 'sh', '-c', script, process.execPath, BIN, 'controller', 'serve', '--port', String(port)].concat([
        '--data-dir',
        data,
        '--log-level',
        'error',
      ]),
      { env: { ...process.env, OGENT_ADMIN_PASSWORD: ADMIN_PASSWORD }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    fx.defer(() => {
      child.kill('SIGKILL');
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const url = (await waitFor(() => /listening on (http:\/\/\S+)/.exec(out)?.[1], 'the controller')) as string;
    // The tmpfs is visible through the controller's root in /proc.
    const auditFile = `/proc/${child.pid}/root${data}/audit.log`;
    const inNamespace = (command: string) =>
      new Promise<void>((resolve) =>
        spawn('nsenter', ['-t', String(child.pid), '-m', '--', 'sh', '-c', command], { stdio: 'ignore' }).on(
          'close',
          () => resolve(),
        ),
      );
    await createAgentUsers(url, 'full', 1);
    fx.defer(async () => {
      await swarm.stop('SIGKILL');
    });
    const swarm = await startSwarm(url, 'full', 1);
    const token = await adminToken(url);
    const jobRequest = { command: 'echo hi', target: ['full-1'], executor: 'shell', timeoutMs: 10_000 };
    expect((await request(url, '/api/v1/jobs', { method: 'POST', token, body: jobRequest })).status).to.equal(201);

    await inNamespace(`dd if=/dev/zero of=${data}/fill bs=64k 2>/dev/null; true`);
    // Logins go on while their entries fit in the file's last page; once one does not, the file stops growing.
    let size = (await stat(auditFile)).size;
    for (let i = 0; ; i++) {
      expect(i, 'the audit log kept growing on a full disk').to.be.lessThan(200);
      expect(
        (await request(url, '/token', { method: 'POST', body: { username: 'admin', password: ADMIN_PASSWORD } }))
          .status,
      ).to.equal(200);
      const now = (await stat(auditFile)).size;
      if (now === size) break;
      size = now;
    }
    expect(out).to.include('audit entry not written');

    const refused = await request<{ error: string; message: string }>(url, '/api/v1/jobs', {
      method: 'POST',
      token,
      body: jobRequest,
    });
    expect(refused.status).to.equal(503);
    expect(refused.body.error).to.equal('audit_unavailable');
    expect(refused.body.message).to.match(/the audit log cannot be written .*job_create refused/);
    // Nothing ran, nothing was stored: the only job is the first one.
    const jobs = (await request<{ jobs: Job[] }>(url, '/api/v1/jobs', { token })).body.jobs;
    expect(jobs).to.have.length(1);
    // The file holds whole lines only.
    const text = await readFile(auditFile, 'utf8');
    expect(text.endsWith('\n')).to.equal(true);
    for (const line of text.trimEnd().split('\n')) JSON.parse(line);

    await inNamespace(`rm -f ${data}/fill`);
    const created = await request<Job>(url, '/api/v1/jobs', { method: 'POST', token, body: jobRequest });
    expect(created.status).to.equal(201);
    const after = (await readFile(auditFile, 'utf8'))
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditEntry);
    expect(after.at(-1)).to.include({ action: 'job_create', jobId: created.body.id, actor: 'admin' });
  });
});

import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import type { AuditEntry } from '../../src/domain/model.js';
import { AuditService } from '../../src/controller/application/audit-service.js';
import { FileAuditLog } from '../../src/controller/infrastructure/store/audit-file.js';
import { silentLogger } from '../../src/lib/log.js';
import { Fixtures } from '../helpers/fixtures.js';

const entry = (i: number, action = 'login'): AuditEntry => ({
  at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
  actor: `user-${i}`,
  from: '127.0.0.1',
  action,
  ok: true,
});

describe('FileAuditLog (real files)', () => {
  const fx = new Fixtures();
  afterEach(() => fx.cleanup());

  it('appends JSON lines in order and reads them back filtered by since, action and limit (the newest)', async () => {
    const log = new FileAuditLog(join(await fx.tempDir(), 'audit.log'));
    await log.open();
    fx.defer(() => log.close());
    await Promise.all(Array.from({ length: 30 }, (_, i) => log.append(entry(i, i % 3 === 0 ? 'job_create' : 'login'))));
    const all = await log.read({});
    expect(all.map((e) => e.actor)).to.deep.equal(Array.from({ length: 30 }, (_, i) => `user-${i}`));
    const jobs = await log.read({ action: 'job_create' });
    expect(jobs.map((e) => e.actor)).to.deep.equal([0, 3, 6, 9, 12, 15, 18, 21, 24, 27].map((i) => `user-${i}`));
    expect((await log.read({ limit: 2 })).map((e) => e.actor)).to.deep.equal(['user-28', 'user-29']);
    expect((await log.read({ since: entry(25).at, action: 'login' })).map((e) => e.actor)).to.deep.equal([
      'user-25',
      'user-26',
      'user-28',
      'user-29',
    ]);
    const text = await readFile(log.path, 'utf8');
    expect(text.split('\n')).to.have.length(31);
    expect(JSON.parse(text.split('\n')[0] as string)).to.deep.equal(entry(0, 'job_create'));
  });

  it('creates the file 0600, narrows a wider existing one, and keeps what was there', async () => {
    const dir = await fx.tempDir();
    const path = join(dir, 'audit.log');
    await writeFile(path, `${JSON.stringify(entry(1))}\n`);
    await chmod(path, 0o644);
    const log = new FileAuditLog(path);
    await log.open();
    fx.defer(() => log.close());
    expect((await stat(path)).mode & 0o777).to.equal(0o600);
    await log.append(entry(2));
    expect((await log.read({})).map((e) => e.actor)).to.deep.equal(['user-1', 'user-2']);
  });

  it('skips a line that is not JSON (a torn write from a crash) and never glues a new entry to it', async () => {
    const path = join(await fx.tempDir(), 'audit.log');
    await writeFile(path, `${JSON.stringify(entry(1))}\n{"at": "2026-01-01T00:0`);
    const log = new FileAuditLog(path);
    await log.open();
    fx.defer(() => log.close());
    await log.append(entry(3));
    expect((await log.read({})).map((e) => e.actor)).to.deep.equal(['user-1', 'user-3']);
    expect((await readFile(path, 'utf8')).split('\n')).to.have.length(4);
  });

  it('AuditService: required() turns a write failure into a 503, record() logs it and goes on', async () => {
    const log = new FileAuditLog(join(await fx.tempDir(), 'audit.log'));
    await log.open();
    await log.close();
    const errors: string[] = [];
    const service = new AuditService(log, { ...silentLogger, error: (msg) => errors.push(msg) });
    const input = { actor: 'admin', action: 'job_create', ok: true };
    try {
      await service.required(input);
      expect.fail('required() resolved');
    } catch (err) {
      expect(err).to.include({ status: 503, error: 'audit_unavailable' });
      expect((err as Error).message).to.include('job_create refused');
    }
    await service.record({ ...input, action: 'login' });
    expect(errors).to.deep.equal(['audit entry not written: action refused', 'audit entry not written']);
    try {
      await service.read({ name: 'v', role: 'viewer' }, {});
      expect.fail('read() resolved for a viewer');
    } catch (err) {
      expect(err).to.include({ status: 403 });
    }
  });
});

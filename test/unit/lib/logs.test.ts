import { expect } from 'chai';
import { createLogger, prettyLine, withFields, type LoggerOptions, type LogLevel } from '../../../src/lib/log.js';

/** A logger writing into memory, and what it wrote so far. */
function capture(level: LogLevel = 'debug', options: LoggerOptions = {}, tty = false) {
  let text = '';
  // Written synchronously, as pino writes to stderr.
  const stream = { isTTY: tty, write: (chunk: string) => ((text += chunk), true) } as unknown as NodeJS.WritableStream;
  const log = createLogger(level, stream, options);
  return { log, text: () => text, lines: () => text.split('\n').filter(Boolean) };
}

describe('logging (pino)', () => {
  it('writes one JSON document a line when the stream is not a terminal: level, time, msg and the fields', () => {
    const { log, lines } = capture();
    log.info('job created', { jobId: 'j1', runs: 2 });
    const entry = JSON.parse(lines()[0] ?? '') as Record<string, unknown>;
    expect(entry).to.include({ level: 'info', msg: 'job created', jobId: 'j1', runs: 2 });
    expect(Number.isNaN(Date.parse(entry.time as string))).to.equal(false);
  });

  it('writes readable lines on a terminal, without colours when asked', () => {
    const { log, lines } = capture('info', { color: false }, true);
    log.warn('dispatch not acknowledged', { jobId: 'j1', error: 'timed out' });
    expect(lines()[0]).to.match(/^\d\d:\d\d:\d\d\.\d{3} WARN {2}dispatch not acknowledged jobId=j1 error="timed out"$/);
  });

  it('puts multi-line values (stack traces) on the lines below', () => {
    const out = prettyLine(JSON.stringify({ level: 'error', time: new Date().toISOString(), msg: 'boom', error: 'E\n  at f' }));
    expect(out.split('\n').slice(1, 4)).to.deep.equal(['  error:', '    E', '      at f']);
  });

  it('drops lines below the level, and everything at silent', () => {
    const warn = capture('warn');
    warn.log.info('hidden');
    warn.log.debug('hidden');
    warn.log.error('shown');
    expect(warn.lines().map((l) => (JSON.parse(l) as { msg: string }).msg)).to.deep.equal(['shown']);
    const silent = capture('silent');
    silent.log.error('nothing');
    expect(silent.text()).to.equal('');
  });

  it('never writes a password, token, API key or Authorization header, by key or by shape', () => {
    const { log, text } = capture();
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
    log.info('login', { user: 'alice', password: 'pw-secret-1' });
    log.info('request', { headers: { authorization: 'Bearer tok-secret-2', cookie: 'sid=cookie-secret-3' } });
    log.info('ai', { endpoint: { apiKey: 'sk-secret-4' }, access_token: 'tok-secret-5', nested: { a: { token: 't-6' } } });
    log.error(`refused ${jwt}`, { error: `upstream said: Authorization: Bearer ${jwt}`, list: [`basic dXNlcjpwdw==`] });
    for (const secret of ['pw-secret-1', 'tok-secret-2', 'cookie-secret-3', 'sk-secret-4', 'tok-secret-5', 't-6', jwt, 'dXNlcjpwdw==']) {
      expect(text()).not.to.include(secret);
    }
    expect(text()).to.include('"user":"alice"').and.include('[redacted]');
  });

  it('adds fields to every line of a child logger (job and run ids), with pino or any other Logger', () => {
    const { log, lines } = capture();
    withFields(log, { jobId: 'j9' }).info('run finished', { runId: 'j9_0' });
    expect(JSON.parse(lines()[0] ?? '')).to.include({ jobId: 'j9', runId: 'j9_0' });

    const seen: Array<Record<string, unknown> | undefined> = [];
    const plain = { debug() {}, info: (_m: string, f?: Record<string, unknown>) => seen.push(f), warn() {}, error() {} };
    withFields(plain, { jobId: 'j8' }).info('x', { runId: 'j8_1' });
    expect(seen).to.deep.equal([{ jobId: 'j8', runId: 'j8_1' }]);
  });
});

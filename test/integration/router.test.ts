import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Router } from '../../src/controller/infrastructure/http/router.js';
import type { Logger } from '../../src/lib/log.js';

/**
 * The router answers every failure as that request's 500, serialising the answer included: a body JSON.stringify
 * cannot write (past V8's longest string, a BigInt) was thrown outside its error handling, an unhandled rejection
 * that ended `controller serve` (hostile-input issue, row 2). A real server on port 0.
 */
describe('Router: a reply that cannot be sent is a 500 for that request', () => {
  let server: Server;
  let url: string;
  const errors: string[] = [];
  const log: Logger = { debug() {}, info() {}, warn() {}, error: (msg) => void errors.push(msg) };

  before(async () => {
    const router = new Router(log)
      .on('GET', '/bigint', async () => ({ status: 200, body: { n: 1n } }))
      .on('GET', '/bad-header', async () => ({ status: 200, body: {}, headers: { 'x-bad': 'a\nb' } }))
      .on('GET', '/ok', async () => ({ status: 200, body: { ok: true } }));
    server = createServer((req, res) => void router.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('answers 500 {error, message} to a body JSON.stringify throws on, logs it, and serves the next request', async () => {
    const res = await fetch(`${url}/bigint`, { signal: AbortSignal.timeout(5000) });
    expect(res.status).to.equal(500);
    expect(await res.json()).to.deep.equal({ error: 'internal', message: 'internal error; see the controller log' });
    expect(errors).to.include('request failed');
    expect((await fetch(`${url}/ok`)).status).to.equal(200);
  });

  it('drops the connection of a reply whose headers cannot be written, and serves the next request', async () => {
    await fetch(`${url}/bad-header`, { signal: AbortSignal.timeout(5000) }).then(
      () => expect.fail('answered'),
      (err: Error) => expect(err.name).to.equal('TypeError'),
    );
    expect(errors).to.include('response not sent');
    expect((await fetch(`${url}/ok`)).status).to.equal(200);
  });
});

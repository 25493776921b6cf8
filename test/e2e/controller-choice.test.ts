import { expect } from 'chai';
import { createServer, type Server, type Socket } from 'node:net';
import type { RunningController } from '../../src/controller/index.js';
import { runCli } from '../helpers/cli.js';
import { ADMIN_PASSWORD, Fixtures } from '../helpers/fixtures.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

/** Accepts connections and never answers: a frozen controller (SIGSTOP, swap death) whose kernel still accepts. */
class HungServer {
  readonly sockets = new Set<Socket>();
  readonly events: string[] = [];
  readonly server: Server = createServer((s) => {
    this.sockets.add(s);
    this.events.push('hung: connected');
    s.on('close', () => {
      this.sockets.delete(s);
      this.events.push('hung: closed');
    });
    s.on('error', () => {});
    s.resume();
  });

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  close() {
    for (const s of this.sockets) s.destroy();
    this.server.close();
  }
}

/** A client given several controllers (scale-out) with the first one frozen. */
describe('choosing among several controllers (real CLI process, a frozen controller, a live one)', function () {
  this.timeout(60_000);
  const fx = new Fixtures();
  let controller: RunningController;
  let hung: HungServer;
  let live: string;

  beforeEach(async () => {
    controller = await fx.controller();
    hung = new HungServer();
    fx.defer(() => hung.close());
    const proxy = new TcpProxy(controller.port);
    proxy.onRequest = (line) => hung.events.push(`live: ${line.replace(/\?\S*/, '')}`);
    live = await proxy.listen();
    fx.defer(() => proxy.close());
  });
  afterEach(() => fx.cleanup());

  it('probes them at once, uses the one that answers, and gives up on the frozen one before going on', async () => {
    const res = await runCli(['jobs', 'list', '--json'], {
      env: {
        OGENT_CONTROLLER: `${await hung.listen()},${live}`,
        OGENT_USERNAME: 'admin',
        OGENT_PASSWORD: ADMIN_PASSWORD,
        XDG_CONFIG_HOME: await fx.tempDir(),
      },
    });
    expect(res.code, res.stderr).to.equal(0);
    expect(JSON.parse(res.stdout)).to.deep.equal({ jobs: [] });
    const events = hung.events;
    // Both probed before either answered: the live one's probe did not wait for the frozen one's 3 s timeout.
    expect(events.indexOf('hung: connected'), events.join('\n')).to.be.at.least(0);
    expect(events.indexOf('hung: closed'), events.join('\n')).to.be.greaterThan(
      events.indexOf('live: GET /healthz HTTP/1.1'),
    );
    // The frozen one's probe was given up once the live one answered, before the command went on with its work.
    expect(events.indexOf('hung: closed'), events.join('\n')).to.be.lessThan(
      events.indexOf('live: GET /api/v1/jobs HTTP/1.1'),
    );
    expect(events.filter((e) => e.startsWith('live: GET /api/'))).to.deep.equal(['live: GET /api/v1/jobs HTTP/1.1']);
  });

  it('with none answering, names the first and exits 4', async () => {
    const refused = await fx.tempDir().then(async () => {
      // A port nothing listens on: a server started and closed.
      const s = createServer();
      await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
      const port = (s.address() as { port: number }).port;
      await new Promise((resolve) => s.close(resolve));
      return `http://127.0.0.1:${port}`;
    });
    const res = await runCli(['jobs', 'list'], {
      env: {
        OGENT_CONTROLLER: `${refused},${await hung.listen()}`,
        OGENT_USERNAME: 'admin',
        OGENT_PASSWORD: ADMIN_PASSWORD,
        XDG_CONFIG_HOME: await fx.tempDir(),
      },
    });
    expect(res.code, res.stderr).to.equal(4);
    expect(res.stderr).to.include(refused);
  });
});

import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { NodeWebSocket } from 'engine.io-client';
import { io } from 'socket.io-client';
import { wsTransports } from '../../src/lib/ws-transport.js';

/**
 * A bare WebSocket server on a real socket: it accepts the upgrade, sends engine.io's open packet, and hands over the
 * first frame the client sends (socket.io's CONNECT), as bytes.
 */
function firstFrame(): { server: Server; frame: Promise<Buffer> } {
  let got: (frame: Buffer) => void = () => {};
  const frame = new Promise<Buffer>((resolve) => (got = resolve));
  const server = createServer((sock) => {
    sock.once('data', (request) => {
      const key = /sec-websocket-key: *(\S+)/i.exec(request.toString())?.[1] ?? '';
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      sock.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
      );
      const open = `0${JSON.stringify({ sid: 's', upgrades: [], pingInterval: 25000, pingTimeout: 20000, maxPayload: 1e6 })}`;
      sock.write(Buffer.concat([Buffer.from([0x81, open.length]), Buffer.from(open)]));
      sock.once('data', got);
    });
  });
  return { server, frame };
}

async function frameFrom(transports: Array<typeof NodeWebSocket>): Promise<Buffer> {
  const { server, frame } = firstFrame();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const socket = io(`${url}/agents`, { transports, auth: { token: 'tok' }, reconnection: false });
  try {
    return await frame;
  } finally {
    socket.close();
    server.close();
  }
}

describe('WebSocket masking', () => {
  it('a loopback or TLS controller gets frames with a zero mask (nothing to XOR); any other plain URL random masks', () => {
    expect(wsTransports('http://127.0.0.1:8080')[0]).to.not.equal(NodeWebSocket);
    expect(wsTransports('http://localhost:8080')[0]).to.not.equal(NodeWebSocket);
    expect(wsTransports('http://[::1]:8080')[0]).to.not.equal(NodeWebSocket);
    expect(wsTransports('https://ctl.example.net')[0]).to.not.equal(NodeWebSocket);
    expect(wsTransports('http://ctl.example.net:8080')).to.deep.equal([NodeWebSocket]);
    expect(wsTransports('http://10.0.0.5:8080')).to.deep.equal([NodeWebSocket]);
    expect(wsTransports('http://ctl.localhost:8080')).to.deep.equal([NodeWebSocket]);
    process.env.OGENT_WS_MASK = 'always';
    try {
      expect(wsTransports('https://ctl.example.net')).to.deep.equal([NodeWebSocket]);
      expect(wsTransports('http://127.0.0.1:8080')).to.deep.equal([NodeWebSocket]);
    } finally {
      delete process.env.OGENT_WS_MASK;
    }
    expect(wsTransports('http://127.0.0.1.example.net:8080')).to.deep.equal([NodeWebSocket]);
  });

  it('on the wire: masked frames whose key is zero to a loopback controller, a random key with the default', async () => {
    const unmasked = await frameFrom(wsTransports('http://127.0.0.1:1'));
    expect((unmasked[1] ?? 0) & 0x80, 'mask bit').to.equal(0x80);
    expect([...unmasked.subarray(2, 6)]).to.deep.equal([0, 0, 0, 0]);
    expect(unmasked.subarray(6).toString()).to.equal('40/agents,{"token":"tok"}');

    const masked = await frameFrom([NodeWebSocket]);
    expect((masked[1] ?? 0) & 0x80, 'mask bit').to.equal(0x80);
    expect([...masked.subarray(2, 6)]).to.not.deep.equal([0, 0, 0, 0]);
    expect(masked.subarray(6).toString()).to.not.equal('40/agents,{"token":"tok"}');
  });
});

import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a controller, for slow and wedged links: either direction can be stopped (the proxy stops
 * reading it, so the kernel's buffers fill up between the two, as with a slow terminal, a slow link or a stuck
 * peer), and it records the HTTP request lines it passes.
 */
export class TcpProxy {
  readonly server: Server;
  /** Per connection: the HTTP request lines the client sent on it, and the bytes sent back to it. */
  readonly connections: Array<{ requests: string[]; bytesDown: number }> = [];
  /** Called with each HTTP request line, as it passes; `cut` closes the connection it came on, both sides. */
  onRequest: (line: string, cut: () => void) => void = () => {};
  /** Client side → controller side, per open connection. */
  private readonly links = new Map<Socket, Socket>();
  private stalled = { up: false, down: false };

  constructor(target: number) {
    this.server = createServer((client) => {
      const upstream = connect(target, '127.0.0.1');
      this.links.set(client, upstream);
      if (this.stalled.up) client.pause();
      if (this.stalled.down) upstream.pause();
      const seen = { requests: [] as string[], bytesDown: 0 };
      this.connections.push(seen);
      let cut = false;
      client.on('data', (d: Buffer) => {
        for (const line of d.toString('latin1').match(/^[A-Z]+ \S+ HTTP\/1\.1$/gm) ?? []) {
          seen.requests.push(line);
          this.onRequest(line, () => {
            cut = true;
            end();
          });
        }
        if (cut) return;
        if (!upstream.write(d)) {
          client.pause();
          upstream.once('drain', () => !this.stalled.up && client.resume());
        }
      });
      upstream.on('data', (d: Buffer) => {
        seen.bytesDown += d.length;
        if (!client.write(d)) {
          upstream.pause();
          client.once('drain', () => !this.stalled.down && upstream.resume());
        }
      });
      const end = () => {
        client.destroy();
        upstream.destroy();
        this.links.delete(client);
      };
      client.on('close', end).on('error', end);
      upstream.on('close', end).on('error', end);
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  /**
   * Stops reading one direction: `down`, what the controller sends (a client that does not read); `up`, what the
   * clients send (a controller, or the link to it, that takes nothing).
   */
  stall(direction: 'up' | 'down') {
    this.stalled[direction] = true;
    for (const s of this.readers(direction)) s.pause();
  }

  release(direction: 'up' | 'down') {
    this.stalled[direction] = false;
    for (const s of this.readers(direction)) s.resume();
  }

  /** The sockets the proxy reads for one direction. */
  private readers(direction: 'up' | 'down'): Socket[] {
    return direction === 'up' ? [...this.links.keys()] : [...this.links.values()];
  }

  close() {
    for (const [client, upstream] of this.links) {
      client.destroy();
      upstream.destroy();
    }
    this.server.close();
  }
}

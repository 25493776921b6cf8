import type { Server } from 'socket.io';

interface Transport {
  writable: boolean;
  on(event: 'drain' | 'close', listener: () => void): unknown;
  off(event: 'drain' | 'close', listener: () => void): unknown;
}

/**
 * Resolves once every connection of `namespaces` has handed what was emitted to it to the network, or after
 * `timeoutMs`: closing the server drops what still waits in a connection's buffer.
 */
export async function drained(io: Server, namespaces: string[], timeoutMs: number): Promise<void> {
  const transports = new Set<Transport>();
  for (const ns of namespaces) for (const socket of io.of(ns).sockets.values()) transports.add(socket.conn.transport);
  await Promise.all([...transports].map((t) => writable(t, timeoutMs)));
}

function writable(transport: Transport, timeoutMs: number): Promise<void> {
  if (transport.writable) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      transport.off('drain', check);
      transport.off('close', done);
      resolve();
    };
    // A drain may hand more buffered packets to the transport: wait until it stays writable.
    const check = () => setImmediate(() => transport.writable && done());
    const timer = setTimeout(done, timeoutMs);
    transport.on('drain', check);
    transport.on('close', done);
  });
}

import { NodeWebSocket } from 'engine.io-client';
import { isLoopback } from './net.js';

/**
 * WebSocket masking (RFC 6455 §5.3) XORs every byte a client sends with a random key, so that a browser page cannot
 * make a transparent HTTP proxy on the path read its messages as requests. It protects nothing when no proxy can
 * read the stream: over TLS, or to a controller on this host. There the key is zero, which `ws` skips at both ends
 * (it was ~10 % of the agent's and the controller's CPU on a 100 MB stream; BENCHMARKS.md, stream). Plain `http://`
 * to another host keeps random keys.
 */
class UnmaskedWebSocket extends NodeWebSocket {
  override createSocket(uri: string, protocols: string | string[] | undefined, opts: Record<string, unknown>) {
    return super.createSocket(uri, protocols, { ...opts, generateMask: (mask: Buffer) => mask.fill(0) });
  }
}

/** The `transports` option of a socket.io client connecting to `url` (always WebSocket). */
export function wsTransports(url: string): Array<typeof NodeWebSocket> {
  // A TLS-intercepting proxy reads the frames: OGENT_WS_MASK=always keeps random keys there.
  if (process.env.OGENT_WS_MASK === 'always') return [NodeWebSocket];
  const { protocol, hostname } = new URL(url);
  return [protocol === 'https:' || isLoopback(hostname) ? UnmaskedWebSocket : NodeWebSocket];
}

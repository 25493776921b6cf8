import type { Socket } from 'socket.io';

/** engine.io internals the sockets lean on: pausing a connection's reads, and what it has not sent yet. */

/** The parts of an engine.io server connection's heartbeat (engine.io 6: `Socket#resetPingTimeout`, its timer). */
interface EngineHeartbeat {
  readyState: string;
  pingTimeoutTimer: NodeJS.Timeout | null;
  pingIntervalTimer: NodeJS.Timeout | null;
  resetPingTimeout(): void;
  on(event: 'heartbeat', listener: () => void): unknown;
  off(event: 'heartbeat', listener: () => void): unknown;
}

/**
 * Stops reading a socket's connection (TCP pushes back on the sender); returns what reads it again. Its pongs then
 * wait unread behind what the sender wrote, and engine.io would close the connection for them: their deadline is
 * held meanwhile, and pings still go out every interval (the agent closes a connection whose controller stops
 * pinging). On resume, a ping not answered yet gets its full timeout from then. With an engine.io whose internals
 * differ, only the reads pause (the connection then drops after a long stall, and the agent reconnects).
 */
export function pauseReading(socket: Socket): () => void {
  const ws = (socket.conn.transport as unknown as { socket?: { pause?(): void; resume?(): void } }).socket;
  ws?.pause?.();
  const releaseHeartbeat = holdPongDeadline(socket.conn);
  return () => {
    ws?.resume?.();
    releaseHeartbeat();
  };
}

function holdPongDeadline(conn: unknown): () => void {
  const c = conn as Partial<EngineHeartbeat>;
  const known =
    typeof c.resetPingTimeout === 'function' &&
    c.pingTimeoutTimer !== undefined &&
    c.pingIntervalTimer !== undefined &&
    typeof c.on === 'function' &&
    typeof c.off === 'function';
  if (!known) return () => {};
  const engine = c as EngineHeartbeat;
  let awaitingPong = engine.pingTimeoutTimer !== null;
  clearTimeout(engine.pingTimeoutTimer ?? undefined);
  engine.pingTimeoutTimer = null;
  // Each ping sent meanwhile waits for its pong without a deadline, and the next ping goes out an interval later
  // (engine.io schedules it when the pong is read); a pong read meanwhile answers them.
  const ownReset = Object.prototype.hasOwnProperty.call(engine, 'resetPingTimeout');
  engine.resetPingTimeout = () => {
    awaitingPong = true;
    engine.pingIntervalTimer?.refresh();
  };
  const answered = () => void (awaitingPong = false);
  engine.on('heartbeat', answered);
  return () => {
    if (!ownReset) delete (engine as Partial<EngineHeartbeat>).resetPingTimeout;
    engine.off('heartbeat', answered);
    if (awaitingPong && engine.readyState === 'open') engine.resetPingTimeout();
  };
}

interface PendingPacket {
  data?: unknown;
}
/**
 * What the controller holds for one connection and has not handed to the kernel yet: engine.io's buffer and ws's.
 * Counting stops once past `stopAt`: live output checks every member of a job's room for every chunk.
 */
export function pendingBytes(socket: Socket, stopAt = Infinity): number {
  const conn = socket.conn as unknown as {
    writeBuffer?: PendingPacket[];
    transport?: { socket?: { bufferedAmount?: number } };
  };
  let bytes = conn.transport?.socket?.bufferedAmount ?? 0;
  for (const packet of conn.writeBuffer ?? []) {
    const data = packet.data;
    if (typeof data === 'string') bytes += data.length;
    else if (data instanceof Uint8Array) bytes += data.byteLength;
    if (bytes > stopAt) break;
  }
  return bytes;
}

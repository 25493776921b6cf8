/**
 * Caps on connections and how long a connection may take, per controller process (README, Limits). The counts are
 * `controller serve` flags; each cap has a test at and past it (test/integration/connection-limits.test.ts).
 */
export const CONNECTION_LIMITS = {
  /**
   * TCP connections from one address, authenticated or not (`--max-connections-per-address`). An agent holds one,
   * a running `exec` two: an office or a fleet of a few thousand hosts behind one NAT address stays under it.
   */
  connectionsPerAddress: 4096,
  /**
   * Of those, not authenticated yet: HTTP connections, and WebSockets until their Socket.IO handshake passed
   * (`--max-unauthenticated-per-address`). Each lives at most a few seconds (the timeouts below).
   */
  unauthenticatedPerAddress: 512,
  /** Socket.IO connections of one user on `/clients` (`--max-sockets-per-user`): one per running `exec`/`jobs wait`. */
  socketsPerUser: 128,
  /**
   * Of one agent on `/agents`. It holds one, and a new one replaces it; a few more while a dropped one is not yet
   * found dead (the heartbeat, up to 20 s), so that an agent reconnecting through a flaky link is not turned away.
   */
  socketsPerAgent: 4,
  /** The request line and headers must arrive within this (slowloris). */
  headersTimeoutMs: 10_000,
  /** The whole request, body included (1 MiB at most), within this. */
  requestTimeoutMs: 30_000,
  /** An idle keep-alive HTTP connection is closed after this. */
  keepAliveTimeoutMs: 5_000,
  /** The TLS handshake (with --tls-cert) within this. */
  tlsHandshakeTimeoutMs: 10_000,
  /**
   * A Socket.IO connection must pass its handshake (join a namespace) within this (Socket.IO's default: 45 s). Not
   * shorter: an agent's first handshake waits for its login, slow when thousands log in at once.
   */
  socketHandshakeTimeoutMs: 20_000,
};

export type ConnectionLimits = typeof CONNECTION_LIMITS;

/** Why a connection was refused: the `reason` label of `ogent_connections_refused_total`. */
export const REFUSAL_REASONS = ['per_address', 'unauthenticated_per_address', 'per_user', 'per_agent'] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

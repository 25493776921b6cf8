/**
 * How a peer says which release it runs (docs/protocol.md §9): the `X-Ogent-Version` header on every HTTP request of
 * agents and clients, and `version` in the `auth` of the Socket.IO handshake (both namespaces). A peer that says
 * nothing is the first release. Refusals carry this code: HTTP `426 {error}`, the handshake's `data.code`, the
 * `agent_info` ack's `code`.
 */
export const VERSION_HEADER = 'x-ogent-version';
export const VERSION_UNSUPPORTED = 'version_unsupported';

/** The version a header or handshake field announces: undefined when absent; anything but a string as given, text. */
export function announcedVersion(raw: unknown): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (Array.isArray(raw)) return raw.map(String).join(',');
  return String(raw);
}

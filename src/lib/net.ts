import { isIP } from 'node:net';

/**
 * A host name or address that stays on this machine (plain HTTP to it crosses no network): `localhost`,
 * 127.0.0.0/8 and ::1, judged from the text alone. No DNS: `*.localhost` names are not counted, since a resolver
 * may send them over the network.
 */
export function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) !== 6) return false;
  // The URL parser writes an IPv6 address in its shortest form (0:0:0:0:0:0:0:1 → ::1, ::ffff:7f00:1 for 127.0.0.1).
  const short = new URL(`http://[${host}]`).hostname.slice(1, -1);
  return short === '::1' || /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(short);
}

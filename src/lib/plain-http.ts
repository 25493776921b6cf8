import { usageError } from './errors.js';
import { isLoopback } from './net.js';

/** `--insecure-http` on every command that talks to or serves a controller (README, TLS). */
export const INSECURE_HTTP_SUMMARY =
  'Allow plain HTTP off loopback (passwords and tokens cross the network in clear); OGENT_INSECURE_HTTP=1 too.';

/**
 * A client, agent or enrollment about to send credentials to `url`: plain http:// to a host that is not loopback is a
 * usage error (exit 2) unless allowed with `--insecure-http` / OGENT_INSECURE_HTTP=1.
 */
export function checkPlainHttpUrl(url: string, allowed: boolean | undefined): void {
  const { protocol, hostname } = new URL(url);
  if (allowed || protocol !== 'http:' || isLoopback(hostname)) return;
  throw usageError(
    `refusing plain HTTP to ${url}: it is not a loopback address, so passwords and tokens would cross the network unencrypted`,
    'serve the controller with TLS (--tls-cert/--tls-key) and use https://, or pass --insecure-http (or set OGENT_INSECURE_HTTP=1) to send them in clear anyway',
  );
}

/** The controller about to listen on `host` without TLS: refused (exit 2) off loopback unless `--insecure-http`. */
export function checkPlainHttpListen(host: string, tls: boolean, allowed: boolean | undefined): void {
  if (allowed || tls || isLoopback(host)) return;
  throw usageError(
    `refusing to serve plain HTTP on ${host}: it is not a loopback address, so passwords and tokens would cross the network unencrypted`,
    'pass --tls-cert FILE --tls-key FILE, or --insecure-http to serve plain HTTP anyway (e.g. behind a TLS-terminating proxy)',
  );
}

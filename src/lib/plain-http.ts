import { isLoopback } from './net.js';

/** `--insecure-http` on every command that talks to or serves a controller (README, TLS). */
export const INSECURE_HTTP_SUMMARY =
  'Allow plain HTTP off loopback (passwords and tokens cross the network in clear); OGENT_INSECURE_HTTP=1 too.';

/**
 * The warning for a client, agent or enrollment about to send credentials to `url` over plain http:// to a host that
 * is not loopback, without `--insecure-http` / OGENT_INSECURE_HTTP=1; undefined when there is nothing to say.
 * For this release it is a warning, so that agents and scripts set up before TLS was the default keep working
 * (README, TLS); the next release refuses it (exit 2).
 */
export function plainHttpWarning(url: string, allowed: boolean | undefined): string | undefined {
  const { protocol, hostname } = new URL(url);
  if (allowed || protocol !== 'http:' || isLoopback(hostname)) return undefined;
  return (
    `ogent: warning: plain HTTP to ${url}, which is not a loopback address: passwords and tokens cross the network unencrypted\n` +
    '  this release allows it; the next one refuses it unless --insecure-http (or OGENT_INSECURE_HTTP=1)\n' +
    '  use https:// (a controller off loopback serves TLS with its own CA unless --insecure-http), or pass --insecure-http\n'
  );
}

let warned = false;

/** Writes `plainHttpWarning` on stderr, at most once per process (an agent reconnects, `exec` makes many calls). */
export function checkPlainHttpUrl(url: string, allowed: boolean | undefined): void {
  const warning = plainHttpWarning(url, allowed);
  if (!warning || warned) return;
  warned = true;
  process.stderr.write(warning);
}

import { compatibility, type Compatibility, type Peer } from '../../domain/versions.js';
import { VERSION } from '../../lib/version.js';
import { announcedVersion, VERSION_HEADER, VERSION_UNSUPPORTED } from '../../protocol/version.js';
import { AppError } from '../application/errors.js';
import type { Request } from './http/router.js';

/** Whether this controller takes a peer that announces `raw` (README "Versions and upgrades"). */
export const admitVersion = (raw: unknown, peer: Peer): Compatibility =>
  compatibility(announcedVersion(raw), VERSION, peer);

/**
 * HTTP: what agents and clients call (`POST /token`, `/api/…`) is refused with `426 {error: "version_unsupported"}`
 * for a version the controller does not accept. Health, readiness and metrics stay open to any prober.
 */
export function checkRequestVersion(req: Request): void {
  if (req.path !== '/token' && !req.path.startsWith('/api/')) return;
  const verdict = admitVersion(req.headers[VERSION_HEADER], 'program');
  if (!verdict.ok) throw new AppError(VERSION_UNSUPPORTED, verdict.message);
}

/** Socket.IO: a handshake whose `auth.version` the controller does not accept fails with `data.code`. */
export function versionMiddleware(peer: Peer) {
  return (socket: { handshake: { auth?: unknown } }, next: (err?: Error) => void) => {
    const verdict = admitVersion((socket.handshake.auth as { version?: unknown } | undefined)?.version, peer);
    if (verdict.ok) return next();
    next(Object.assign(new Error(verdict.message), { data: { code: verdict.code, message: verdict.message } }));
  };
}

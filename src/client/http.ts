import { usageError } from '../lib/errors.js';

export {
  apiError,
  DEFAULT_REQUEST_TIMEOUT_MS,
  login,
  openStream,
  refreshLogin,
  request,
  revokeSession,
  tooManyConnections,
  unusableError,
  versionUnsupported,
  type RequestInit,
  type TokenResponse,
} from '../lib/http-client.js';

export function normalizeUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw.includes('://') ? raw : `http://${raw}`);
  } catch {
    throw usageError(`invalid controller URL "${raw}"`, 'pass e.g. --controller http://127.0.0.1:8600');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw usageError(`invalid controller URL "${raw}": use http:// or https://`);
  }
  return url.origin;
}

/** `--controller URL1,URL2` (several controllers sharing a Redis): each normalised; at least one. */
export function parseControllers(list: string): string[] {
  const urls = list
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean)
    .map((u) => normalizeUrl(u));
  if (urls.length === 0) throw usageError('--controller is empty', 'pass a URL, or several: URL1,URL2');
  return urls;
}

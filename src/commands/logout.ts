import { readStored, removeStored } from '../client/credentials.js';
import { revokeSession } from '../client/http.js';
import { readCa } from '../client/tls.js';
import { EXIT, UserError } from '../lib/errors.js';
import { BaseCommand } from './base.js';

/** A controller that does not answer this fast is not waited for: the local credentials go anyway. */
const REVOKE_TIMEOUT_MS = 5000;

async function done(warning?: string) {
  const existed = await removeStored();
  if (warning) process.stderr.write(warning);
  process.stderr.write(existed ? 'logged out\n' : 'not logged in\n');
}

export default class Logout extends BaseCommand {
  static override summary =
    'End the login session on the controller and forget the tokens kept by `ogent login` (exit 0 even if unreachable).';
  static override examples = ['<%= config.bin %> logout'];

  async run(): Promise<void> {
    await this.parse(Logout);
    const stored = await readStored();
    const live = stored?.refreshToken && Date.parse(stored.refreshExpiresAt ?? '') > Date.now();
    // The local copy goes whatever the controller says: a logout never leaves usable tokens on this machine.
    let warning: string | undefined;
    if (stored && live) {
      try {
        const ca = stored.ca ? await readCa(stored.ca) : undefined;
        await revokeSession(stored.controller, stored.refreshToken as string, ca, REVOKE_TIMEOUT_MS);
      } catch (err) {
        // 401: the controller no longer accepts this token at all (its signing secret changed): nothing to revoke.
        if (err instanceof UserError && err.exit === EXIT.auth) return done();
        warning =
          `ogent: warning: the session could not be revoked on ${stored.controller} (${(err as Error).message}); ` +
          `it ends by itself at ${stored.refreshExpiresAt}\n`;
      }
    }
    await done(warning);
  }
}

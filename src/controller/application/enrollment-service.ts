import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { AppError, badRequest, conflict, notFound } from './errors.js';
import { generatePassword, hashPassword } from './passwords.js';
import { newEpoch, requireAdmin } from './auth-service.js';
import type { JoinTokenInfo } from '../../protocol/agents.js';
import { formatJoinToken, JOIN_TOKEN_PREFIX } from '../../protocol/join-token.js';
import type { EnrollmentRepository, EnrollmentToken, Identity, UserRepository } from './ports.js';

const AGENT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export const hashJoinToken = (token: string) => createHash('sha256').update(token).digest('hex');

const refused = (message: string) => new AppError('invalid_join_token', message);

export interface IssuedJoinToken {
  id: string;
  /** The secret, shown once. */
  token: string;
  expiresAt: string;
  uses: number;
  labels?: Record<string, string>;
  /** The controller's own CA (`sha256:HEX`), which the token also carries after its `.` for agents to pin. */
  caFingerprint?: string;
}

/**
 * How long a join token stays listed after it expired (used-up ones too, once they expire): long enough to see what
 * happened to it; then the next `issue` removes it, so a fleet that issues one per host does not grow the store
 * without end.
 */
export const EXPIRED_TOKEN_KEPT_MS = 7 * 86_400_000;

/** The shortest id prefix `revoke` takes (ids are UUIDs: 8 hex digits are unique among thousands). */
const ID_PREFIX_MIN = 8;

const info = ({ hash: _hash, ...token }: EnrollmentToken, now: string): JoinTokenInfo => ({
  ...token,
  state: token.expiresAt <= now ? 'expired' : token.usesLeft <= 0 ? 'used_up' : 'active',
});

/** Join tokens for fleets (docs/architecture.md §7.4): one token enrolls up to N agents, each with its own agent-role user. */
export class EnrollmentService {
  constructor(
    private readonly enrollments: EnrollmentRepository,
    private readonly users: UserRepository,
    /** The controller's own CA (README, TLS): issued tokens carry it; none with `--tls-cert` or plain HTTP. */
    private readonly caFingerprint?: string,
  ) {}

  async issue(
    actor: Identity,
    options: { ttlSeconds: number; uses: number; labels?: Record<string, string> },
  ): Promise<IssuedJoinToken> {
    requireAdmin(actor);
    // Only the secret (before any `.`) is hashed and stored; the CA fingerprint after it is public.
    const token = `${JOIN_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const now = Date.now();
    const labels = options.labels && Object.keys(options.labels).length ? { labels: options.labels } : {};
    const issued = {
      id: randomUUID(),
      hash: hashJoinToken(token),
      createdBy: actor.name,
      createdAt: new Date(now).toISOString(),
      expiresAt: new Date(now + options.ttlSeconds * 1000).toISOString(),
      usesLeft: options.uses,
      ...labels,
    };
    // Housekeeping first, in one write, and never in the way: the token is stored (and its secret shown) either way.
    await this.enrollments.removeExpiredBefore(new Date(now - EXPIRED_TOKEN_KEPT_MS).toISOString()).catch(() => 0);
    await this.enrollments.put(issued);
    const ca = this.caFingerprint ? { caFingerprint: this.caFingerprint } : {};
    return {
      id: issued.id,
      token: formatJoinToken(token, this.caFingerprint),
      expiresAt: issued.expiresAt,
      uses: options.uses,
      ...labels,
      ...ca,
    };
  }

  /** Every join token the store holds (expired and used-up ones too, for a week after they expire), newest first. */
  async list(actor: Identity): Promise<JoinTokenInfo[]> {
    requireAdmin(actor);
    const now = new Date().toISOString();
    return (await this.enrollments.list())
      .map((token) => info(token, now))
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || a.id.localeCompare(b.id));
  }

  /**
   * Deletes a join token, by its id or a unique prefix of it (at least 8 characters): no agent can enroll with it
   * afterwards. Agents already enrolled with it keep their own credentials (`ogent agents remove` revokes those).
   */
  async revoke(actor: Identity, idOrPrefix: string): Promise<JoinTokenInfo> {
    requireAdmin(actor);
    const wanted = idOrPrefix.toLowerCase();
    const all = await this.enrollments.list();
    const exact = all.find((t) => t.id === wanted);
    if (!exact && wanted.length < ID_PREFIX_MIN) {
      throw badRequest(`give the whole join token id, or at least its first ${ID_PREFIX_MIN} characters`);
    }
    const matches = exact ? [exact] : all.filter((t) => t.id.startsWith(wanted));
    if (matches.length > 1) {
      throw conflict(`"${idOrPrefix}" is the start of ${matches.length} join tokens' ids: give more of it`);
    }
    const token = matches[0];
    if (!token || !(await this.enrollments.remove(token.id))) {
      throw notFound(`no join token with id "${idOrPrefix}"`);
    }
    return info(token, new Date().toISOString());
  }

  /**
   * Exchanges a join token for the credential of a new agent-role user `name` (its password, shown once).
   * The name must be free: an existing user, agent or not, is never taken over (remove the agent first).
   * A use is taken only when the agent is created. `labels`: the token's, for the agent's record.
   */
  async enroll(
    token: string,
    name: string,
  ): Promise<{ name: string; password: string; tokenId: string; labels: Record<string, string> }> {
    if (!AGENT_NAME.test(name)) {
      throw badRequest(
        `invalid agent name "${name}": letters, digits, . _ - (max 63), starting with a letter or digit`,
      );
    }
    // A token may end in `.` and its CA's fingerprint (protocol.md): older agents send it whole.
    const hash = hashJoinToken(token.split('.')[0] as string);
    const known = await this.enrollments.getByHash(hash);
    const now = new Date().toISOString();
    if (!known) throw refused('join token invalid: ask an admin for one (`ogent agents enroll-token`)');
    if (known.expiresAt <= now) throw refused(`join token expired at ${known.expiresAt}: ask an admin for a new one`);
    if (known.usesLeft <= 0) throw refused('join token used up: ask an admin for a new one');
    const existing = await this.users.get(name);
    if (existing?.role === 'agent') {
      throw conflict(
        `agent "${name}" is already enrolled: an admin must remove it first (\`ogent agents remove ${name}\`), or pick another --name`,
      );
    }
    if (existing) throw conflict(`"${name}" is the name of a user with role ${existing.role}: pick another --name`);
    const password = generatePassword();
    const passwordHash = await hashPassword(password);
    // The name first, atomically: a host enrolling the same name at the same moment (through this controller or
    // another of the cluster) must not overwrite this one's credential, nor take a use for nothing.
    const created = {
      name,
      role: 'agent' as const,
      passwordHash,
      createdAt: new Date().toISOString(),
      epoch: newEpoch(),
    };
    if (!(await this.users.create(created))) {
      throw conflict(`agent "${name}" was enrolled a moment ago by another host: pick another --name`);
    }
    if (!(await this.enrollments.consume(hash, new Date().toISOString()))) {
      await this.users.remove(name);
      throw refused('join token used up or expired: ask an admin for a new one');
    }
    return { name, password, tokenId: known.id, labels: known.labels ?? {} };
  }
}

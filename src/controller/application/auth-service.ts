import { randomBytes } from 'node:crypto';
import { ROLES, type Role, type User } from '../../domain/model.js';
import { badRequest, conflict, forbidden, notFound, TokenError, unauthorized } from './errors.js';
import { DUMMY_HASH, generatePassword, hashPassword, verifyPassword } from './passwords.js';
import type { Identity, TokenService, UserRepository } from './ports.js';
import { by, noAudit, type AuditService } from './audit-service.js';

const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** An identity as a token proved it, with the version and epoch it carried (sockets re-check them on each request). */
export type VerifiedIdentity = Identity & { ver: number; epoch?: string };

/** A new user's epoch (User.epoch): tokens of an earlier user of the same name carry another one. */
export const newEpoch = () => randomBytes(12).toString('base64url');

/** Users, passwords and tokens. */
export class AuthService {
  private readonly revokedListeners: Array<(name: string) => void> = [];

  constructor(
    private readonly users: UserRepository,
    private readonly tokens: TokenService,
    private readonly audit: AuditService = noAudit,
  ) {}

  /** First start of an empty store: create `admin`; returns the password when it was generated. */
  async ensureAdmin(password: string | undefined): Promise<{ created: boolean; generatedPassword?: string }> {
    if ((await this.users.list()).length > 0) return { created: false };
    const chosen = password || generatePassword();
    await this.users.put({
      name: 'admin',
      role: 'admin',
      passwordHash: await hashPassword(chosen),
      createdAt: new Date().toISOString(),
      epoch: newEpoch(),
    });
    return { created: true, generatedPassword: password ? undefined : chosen };
  }

  /** The token, and the version and epoch it carries (a refresh token carries them too). */
  async login(name: string, password: string): Promise<{ token: string; expiresIn: number } & VerifiedIdentity> {
    const user = await this.users.get(name);
    const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH);
    if (!user || !ok) throw unauthorized('invalid user name or password');
    const ver = user.tokenVersion ?? 0;
    const { token, expiresIn } = await this.tokens.issue(user.name, user.role, ver, user.epoch);
    return { token, expiresIn, name: user.name, role: user.role, ver, epoch: user.epoch };
  }

  /** Verifies a bearer token and that its user still exists with that role. Throws TokenError. */
  async authenticate(token: string): Promise<VerifiedIdentity> {
    const claims = await this.tokens.verify(token);
    const identity = { name: claims.sub, role: claims.role, ver: claims.ver, epoch: claims.epoch };
    await this.recheck(identity);
    return identity;
  }

  /**
   * Throws TokenError when the tokens behind `identity` are revoked: the user was removed (or removed and created
   * again: another epoch), its role changed, or its password changed since. Long-lived connections call it on each
   * request.
   */
  async recheck(identity: VerifiedIdentity): Promise<void> {
    const user = await this.users.get(identity.name);
    if (!user || user.role !== identity.role || user.epoch !== identity.epoch) {
      throw new TokenError('ERR_TOKEN_INVALID', 'token revoked: user changed');
    }
    if ((user.tokenVersion ?? 0) !== identity.ver) {
      throw new TokenError('ERR_TOKEN_INVALID', 'token revoked: password changed');
    }
  }

  /** Called with a user's name when its tokens are revoked (removal, password change): connections close. */
  onRevoked(listener: (name: string) => void): void {
    this.revokedListeners.push(listener);
  }

  private revoked(name: string): void {
    for (const listener of this.revokedListeners) listener(name);
  }

  /** A token for an identity the controller vouches for itself (the in-process local agent). */
  async issueFor(name: string) {
    const user = await this.users.get(name);
    if (!user) throw notFound(`no user "${name}"`);
    return this.tokens.issue(user.name, user.role, user.tokenVersion ?? 0, user.epoch);
  }

  async addUser(actor: Identity, name: string, role: string, password?: string) {
    requireAdmin(actor);
    if (!USER_NAME.test(name)) throw badRequest(`invalid user name "${name}": letters, digits, . _ - (max 63)`);
    if (!(ROLES as readonly string[]).includes(role)) throw badRequest(`invalid role "${role}": ${ROLES.join(', ')}`);
    const taken = () => conflict(`user "${name}" already exists`);
    if (await this.users.get(name)) throw taken();
    if (password !== undefined && password.length < 8) throw badRequest('password must have at least 8 characters');
    const chosen = password ?? generatePassword();
    const passwordHash = await hashPassword(chosen);
    await this.audit.required({ ...by(actor), action: 'user_add', ok: true, target: name, detail: `role ${role}` });
    // Atomically: an admin adding the same name through another controller of the cluster must not be overwritten.
    const created = { name, role: role as Role, passwordHash, createdAt: new Date().toISOString(), epoch: newEpoch() };
    if (!(await this.users.create(created))) {
      await this.audit.record({ ...by(actor), action: 'user_add', ok: false, target: name, detail: 'already exists' });
      throw taken();
    }
    return { name, role: role as Role, generatedPassword: password === undefined ? chosen : undefined };
  }

  async listUsers(actor: Identity): Promise<Array<Pick<User, 'name' | 'role' | 'createdAt'>>> {
    requireAdmin(actor);
    return (await this.users.list()).map(({ name, role, createdAt }) => ({ name, role, createdAt }));
  }

  async removeUser(actor: Identity, name: string) {
    requireAdmin(actor);
    if (name === actor.name) throw badRequest('you cannot remove yourself');
    if (!(await this.users.get(name))) throw notFound(`no user "${name}"`);
    await this.audit.record({ ...by(actor), action: 'user_remove', ok: true, target: name });
    if (!(await this.users.remove(name))) throw notFound(`no user "${name}"`);
    this.revoked(name);
  }

  /** Removes the agent-role user `name` (its agent was removed): its tokens and credential stop working at once. */
  async revokeAgent(name: string): Promise<boolean> {
    const user = await this.users.get(name);
    if (user?.role !== 'agent') return false;
    return this.users.remove(name);
  }

  /** Admins set anyone's password; others only their own. Tokens issued before are revoked. */
  async setPassword(actor: Identity, name: string, password?: string) {
    requireSelfOrAdmin(actor, name);
    const user = await this.users.get(name);
    if (!user) throw notFound(`no user "${name}"`);
    if (password !== undefined && password.length < 8) throw badRequest('password must have at least 8 characters');
    const chosen = password ?? generatePassword();
    const tokenVersion = (user.tokenVersion ?? 0) + 1;
    await this.audit.required({ ...by(actor), action: 'user_passwd', ok: true, target: name });
    await this.users.put({ ...user, passwordHash: await hashPassword(chosen), tokenVersion });
    this.revoked(name);
    return { name, generatedPassword: password === undefined ? chosen : undefined };
  }
}

/** Admins manage every user; others only their own password. */
export function requireSelfOrAdmin(actor: Identity, name: string) {
  if (actor.role !== 'admin' && actor.name !== name) throw forbidden('only an admin can change another user');
}

export function requireAdmin(actor: Identity) {
  if (actor.role !== 'admin') throw forbidden(`role "${actor.role}" cannot manage users: an admin can`);
}

const RANK: Record<Role, number> = { agent: 0, viewer: 1, operator: 2, admin: 3 };
export function requireRole(actor: Identity, min: Exclude<Role, 'agent'>, what: string) {
  if (actor.role === 'agent' || RANK[actor.role] < RANK[min]) {
    throw forbidden(`role "${actor.role}" cannot ${what}: it needs ${min} or above`);
  }
}

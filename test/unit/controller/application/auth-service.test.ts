import { expect } from 'chai';
import { AuthService } from '../../../../src/controller/application/auth-service.js';
import { AppError, TokenError } from '../../../../src/controller/application/errors.js';
import type {
  TokenClaims,
  RefreshClaims,
  TokenService,
  UserRepository,
} from '../../../../src/controller/application/ports.js';
import type { Role, User } from '../../../../src/domain/model.js';

/** Users in a map: another controller sharing the store would change them behind this one's back like this. */
class MemoryUsers implements UserRepository {
  readonly users = new Map<string, User>();
  async get(name: string) {
    return this.users.get(name);
  }
  async list() {
    return [...this.users.values()];
  }
  async put(user: User) {
    this.users.set(user.name, user);
  }
  async create(user: User) {
    if (this.users.has(user.name)) return false;
    this.users.set(user.name, user);
    return true;
  }
  async remove(name: string) {
    return this.users.delete(name);
  }
}

/** Tokens are their claims, as JSON: this tests the service's checks, not JWT (test/integration/forged-tokens). */
const plainTokens: TokenService = {
  async issue(sub: string, role: Role, ver: number, epoch?: string) {
    const claims: TokenClaims = { sub, role, ver, epoch, iat: 0, exp: 0, jti: 'j' };
    return { token: JSON.stringify(claims), expiresIn: 60 };
  },
  async verify(token: string) {
    return JSON.parse(token) as TokenClaims;
  },
  async issueRefresh(claims) {
    return JSON.stringify({ ...claims, iat: 0, exp: 0, jti: 'r' });
  },
  async verifyRefresh(token: string) {
    return JSON.parse(token) as RefreshClaims;
  },
};

const ADMIN = { name: 'admin', role: 'admin' as const };

describe('AuthService: revocation', () => {
  let users: MemoryUsers;
  let auth: AuthService;
  let revoked: string[];

  beforeEach(async () => {
    users = new MemoryUsers();
    auth = new AuthService(users, plainTokens);
    await auth.ensureAdmin('admin-password-1');
    await auth.addUser(ADMIN, 'olga', 'operator', 'olga-password-1');
    revoked = [];
    auth.onRevoked((name) => revoked.push(name));
  });

  const identityOf = async (name: string, password: string) =>
    auth.authenticate((await auth.login(name, password)).token);

  it('recheck passes while the user is unchanged, and fails once it changed behind the service’s back', async () => {
    const identity = await identityOf('olga', 'olga-password-1');
    const user = (await users.get('olga')) as User;
    expect(user.epoch).to.be.a('string');
    expect(identity).to.deep.equal({ name: 'olga', role: 'operator', ver: 0, epoch: user.epoch });
    await auth.recheck(identity);

    await users.put({ ...user, tokenVersion: 1 });
    const changed = await auth.recheck(identity).catch((err: unknown) => err);
    expect(changed).to.be.instanceOf(TokenError).with.property('message', 'token revoked: password changed');

    await users.put({ ...user, epoch: 'another-user-of-that-name' });
    const recreated = await auth.recheck(identity).catch((err: unknown) => err);
    expect(recreated).to.be.instanceOf(TokenError).with.property('message', 'token revoked: user changed');

    await users.put({ ...user, role: 'admin' });
    const promoted = await auth.recheck(identity).catch((err: unknown) => err);
    expect(promoted).to.be.instanceOf(TokenError).with.property('message', 'token revoked: user changed');

    await users.remove('olga');
    const gone = await auth.recheck(identity).catch((err: unknown) => err);
    expect(gone).to.be.instanceOf(TokenError).with.property('code', 'ERR_TOKEN_INVALID');
  });

  it('tells its listeners when a user is removed or its password changes, and not otherwise', async () => {
    await auth.addUser(ADMIN, 'vera', 'viewer', 'vera-password-1');
    await auth.setPassword({ name: 'olga', role: 'operator' }, 'olga', 'olga-password-2');
    await auth.removeUser(ADMIN, 'vera');
    expect(revoked).to.deep.equal(['olga', 'vera']);
    const refused = await auth.setPassword({ name: 'olga', role: 'operator' }, 'admin', 'x'.repeat(10)).catch((e) => e);
    expect(refused).to.be.instanceOf(AppError).with.property('status', 403);
    expect(revoked).to.deep.equal(['olga', 'vera']);
  });

  it('an unknown user and a wrong password fail alike', async () => {
    const unknown = await auth.login('nobody', 'olga-password-1').catch((err: unknown) => err);
    const wrong = await auth.login('olga', 'wrong-password').catch((err: unknown) => err);
    for (const err of [unknown, wrong]) {
      expect(err).to.be.instanceOf(AppError);
      expect(err).to.include({ status: 401, error: 'invalid_grant', message: 'invalid user name or password' });
    }
  });
});

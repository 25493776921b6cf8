import { Semaphore } from '../../lib/semaphore.js';
import { AppError } from './errors.js';
import { KDF_CONCURRENCY, kdfLoad } from './passwords.js';
import type { LoginCounters } from './ports.js';

/** Failed logins allowed per window, per client address and per user name (README, Security). */
export interface LoginLimits {
  perAddress: number;
  perUser: number;
  windowMs: number;
}
export const DEFAULT_LOGIN_LIMITS: LoginLimits = { perAddress: 50, perUser: 10, windowMs: 60_000 };

/**
 * Attempts of one client address checked at once (its next ones wait their turn): one fewer than the password hashes
 * that run at once, so one address never holds every slot and a login from elsewhere finds one free.
 */
export const LOGIN_IN_FLIGHT_PER_ADDRESS = Math.max(1, KDF_CONCURRENCY - 1);

/** A login refused by the limits, before any check of its credential. */
export class LoginLimited extends AppError {
  static readonly reason = 'too many login attempts for this user name or from this address';
  constructor(readonly retryAfterS: number) {
    super('too_many_requests', `${LoginLimited.reason}; retry in ${retryAfterS}s`);
  }
}

/** What the guard has let through, for monitoring and tests. */
export interface LoginLoad {
  /** Credential checks running now, over every address. */
  inFlight: number;
  /** The most credential checks one address ever had running at once (at most LOGIN_IN_FLIGHT_PER_ADDRESS). */
  peakInFlightPerAddress: number;
  /** The most password hashes ever running at once in this process (at most KDF_CONCURRENCY). */
  peakKdfInFlight: number;
}

/**
 * The login limits, for any credential (a password today, a machine credential later): each attempt is counted
 * against its user name and its client address BEFORE its credential is checked, so parallel guesses are counted as
 * they arrive (on every controller of a cluster, with Redis counters) and the ones over a limit never reach the
 * costly check; a success gives its count back. Only a few attempts of one address are checked at once.
 */
export class LoginGuard {
  private readonly checking = new Map<string, Semaphore>();
  private inFlight = 0;
  private peakPerAddress = 0;

  constructor(
    private readonly counters: LoginCounters,
    private readonly limits: LoginLimits = DEFAULT_LOGIN_LIMITS,
  ) {}

  /** Runs `check` (the credential's verification) if the limits allow; throws LoginLimited when they do not. */
  async attempt<T>(name: string, address: string, check: () => Promise<T>): Promise<T> {
    return this.counted([{ key: `name:${name}`, limit: this.limits.perUser }], address, check);
  }

  /** A refresh token's check: no name before it is verified, so only its address's budget counts. */
  async attemptRefresh<T>(address: string, check: () => Promise<T>): Promise<T> {
    return this.counted([], address, check);
  }

  private async counted<T>(
    named: Array<{ key: string; limit: number }>,
    address: string,
    check: () => Promise<T>,
  ): Promise<T> {
    const keys = [...named, { key: `address:${address}`, limit: this.limits.perAddress }];
    const waitMs = await this.counters.take(keys, this.limits.windowMs);
    if (waitMs > 0) throw new LoginLimited(Math.max(1, Math.ceil(waitMs / 1000)));
    const result = await this.inTurn(address, check);
    // A refund lost (Redis away) only leaves one count too many: the login itself succeeded.
    await this.counters.refund(keys.map((k) => k.key)).catch(() => {});
    return result;
  }

  load(): LoginLoad {
    return { inFlight: this.inFlight, peakInFlightPerAddress: this.peakPerAddress, peakKdfInFlight: kdfLoad().peak };
  }

  private async inTurn<T>(address: string, check: () => Promise<T>): Promise<T> {
    let slots = this.checking.get(address);
    if (!slots) this.checking.set(address, (slots = new Semaphore(LOGIN_IN_FLIGHT_PER_ADDRESS)));
    const turn = slots;
    try {
      return await turn.run(async () => {
        this.peakPerAddress = Math.max(this.peakPerAddress, turn.active);
        this.inFlight += 1;
        try {
          return await check();
        } finally {
          this.inFlight -= 1;
        }
      });
    } finally {
      if (turn.idle) this.checking.delete(address);
    }
  }
}

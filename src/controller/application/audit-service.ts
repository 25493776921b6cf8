import { silentLogger, type Logger } from '../../lib/log.js';
import { AppError, forbidden } from './errors.js';
import type { AuditEntry, AuditLog, Identity } from './ports.js';

/** An entry as callers give it: `at` is set here; `actor` and `from` come from an identity with `by()`. */
export type AuditInput = Omit<AuditEntry, 'at'>;

/** `actor` and `from` of an entry, from who acts. */
export const by = (actor: Identity): Pick<AuditEntry, 'actor' | 'from'> => ({
  actor: actor.name,
  ...(actor.from ? { from: actor.from } : {}),
});

/**
 * The audit log (docs/architecture.md §7.6), with the rule for when it cannot be written (a full disk):
 * what runs something or grants access (job creation, adding a user, setting a password, enrolling an agent) is
 * refused with 503 (`required`); what stops or takes away (cancelling, removing a user or an agent) and logins go
 * on, with an error in the controller's log (`record`): refusing those would keep running what someone wants stopped.
 */
export class AuditService {
  constructor(
    private readonly log: AuditLog | null,
    private readonly logger: Logger,
  ) {}

  /** Appends the entry, or throws a 503 AppError: the caller must not go on with the action. */
  async required(input: AuditInput): Promise<void> {
    if (!this.log) return;
    try {
      await this.log.append({ at: new Date().toISOString(), ...input });
    } catch (err) {
      this.logger.error('audit entry not written: action refused', { ...input, error: (err as Error).message });
      throw new AppError(
        'audit_unavailable',
        `the audit log cannot be written (${(err as Error).message}): ${input.action} refused; make the audit log writable again (free space in the controller's data dir, or Redis memory with --redis), then retry`,
      );
    }
  }

  /** Appends the entry if it can; a failure is logged as an error and the action goes on. Never throws. */
  async record(input: AuditInput): Promise<void> {
    if (!this.log) return;
    try {
      await this.log.append({ at: new Date().toISOString(), ...input });
    } catch (err) {
      this.logger.error('audit entry not written', { ...input, error: (err as Error).message });
    }
  }

  /** `GET /api/v1/audit`: admins only. */
  async read(actor: Identity, options: { since?: string; limit?: number; action?: string }): Promise<AuditEntry[]> {
    if (actor.role !== 'admin') throw forbidden(`role "${actor.role}" cannot read the audit log: an admin can`);
    if (!this.log) return [];
    return this.log.read(options);
  }
}

/** No audit log (unit tests of services that do not look at it). */
export const noAudit = new AuditService(null, silentLogger);

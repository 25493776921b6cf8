import { requireAdmin, requireRole, requireSelfOrAdmin } from './auth-service.js';
import { forbidden } from './errors.js';
import type { Identity } from './ports.js';

/**
 * Who may do what (docs/architecture.md §7.1): every role check of the API and of `/clients` is one of these. The
 * adapters only authenticate and name the operation they are about to do; the rule (the role, the message) lives here,
 * next to the services, which check again on their own. Named before the body is read, so a role that may not act gets
 * 403 whatever it sent.
 */
const RULES = {
  listAgents: (actor) => requireRole(actor, 'viewer', 'list agents'),
  readAgents: (actor) => requireRole(actor, 'viewer', 'read agents'),
  removeAgents: (actor) => {
    if (actor.role !== 'admin') throw forbidden(`role "${actor.role}" cannot remove agents`);
  },
  changeAgents: requireAdmin,
  issueJoinTokens: requireAdmin,
  runJobs: (actor) => requireRole(actor, 'operator', 'run jobs'),
  readJobs: (actor) => requireRole(actor, 'viewer', 'read jobs'),
  readOutput: (actor) => requireRole(actor, 'viewer', 'read output'),
  followJobs: (actor) => requireRole(actor, 'viewer', 'follow jobs'),
  pruneJobs: requireAdmin,
  manageUsers: requireAdmin,
  /** `subject`: the user whose password changes. */
  changePassword: (actor, subject) => requireSelfOrAdmin(actor, subject ?? ''),
} satisfies Record<string, (actor: Identity, subject?: string) => void>;

export type Operation = keyof typeof RULES;

/** Throws `forbidden` (403) unless `actor` may do `operation` (on `subject`, for `changePassword`). */
export function authorize(actor: Identity, operation: Operation, subject?: string): void {
  RULES[operation](actor, subject);
}

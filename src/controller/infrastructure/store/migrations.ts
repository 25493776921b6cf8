import type { Agent, User } from '../../../domain/model.js';
import type { EnrollmentToken } from '../../application/ports.js';

/**
 * The store's schema version (docs/architecture.md §6.4): what this release writes. A store without a recorded
 * version was written by the first release (schema 1).
 */
export const STORE_SCHEMA = 3;
/** The schema of a store that records none: the first release's. */
export const UNVERSIONED_SCHEMA = 1;

/** The small documents a migration may rewrite (job documents and output are not rewritten by any migration yet). */
export interface StoreDocuments {
  users: User[];
  agents: Agent[];
  enrollments: EnrollmentToken[];
}
export type Collection = keyof StoreDocuments;
/** An index a migration has the store build from its job documents (not a pure rewrite: the store does it). */
export type StoreIndex = 'unfinished-jobs';

/**
 * One step from schema `from` to `to`. `migrate` is pure and idempotent: a controller stopped between a rewrite and
 * the version's record runs it again on the next start.
 */
export interface Migration {
  from: number;
  to: number;
  describe: string;
  /** What it rewrites: a copy of these is kept before it runs. */
  changes: readonly Collection[];
  migrate(docs: StoreDocuments): StoreDocuments;
  /** Indexes the store builds after the rewrite (idempotent, like `migrate`). */
  builds?: readonly StoreIndex[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    from: 1,
    to: 2,
    describe: "agents keep the labels they reported apart from the admin's (reportedLabels, adminLabels)",
    changes: ['agents'],
    // The first release had no admin labels: an agent's labels were the ones it reported.
    migrate: (docs) => ({
      ...docs,
      agents: docs.agents.map((agent) =>
        agent.reportedLabels
          ? agent
          : { ...agent, reportedLabels: { ...agent.labels }, adminLabels: agent.adminLabels ?? {} },
      ),
    }),
  },
  {
    from: 2,
    to: 3,
    describe: 'an index of the unfinished jobs, so that a start reads those and not the whole history',
    changes: [],
    migrate: (docs) => docs,
    builds: ['unfinished-jobs'],
  },
];

/** A store written by a later release than this one. */
export class NewerStoreError extends Error {
  override name = 'NewerStoreError';
  constructor(
    readonly found: number,
    readonly known: number,
  ) {
    super(`schema ${found} is newer than schema ${known}`);
  }
}

/** The migrations that take a store at schema `found` to `current`, in order. Throws NewerStoreError past `current`. */
export function migrationPlan(found: number, current = STORE_SCHEMA, migrations = MIGRATIONS): Migration[] {
  if (!Number.isInteger(found) || found < UNVERSIONED_SCHEMA) throw new Error(`schema ${found} is not a version`);
  if (found > current) throw new NewerStoreError(found, current);
  const plan: Migration[] = [];
  for (let at = found; at < current;) {
    const step = migrations.find((m) => m.from === at);
    if (!step || step.to <= at) throw new Error(`no migration from schema ${at}`);
    plan.push(step);
    at = step.to;
  }
  return plan;
}

/** What the plan rewrites, each collection once. */
export const changedBy = (plan: readonly Migration[]): Collection[] => [...new Set(plan.flatMap((m) => m.changes))];

/** What the plan has the store build, each index once. */
export const builtBy = (plan: readonly Migration[]): StoreIndex[] => [...new Set(plan.flatMap((m) => m.builds ?? []))];

/** The documents after every step of the plan. */
export const migrate = (docs: StoreDocuments, plan: readonly Migration[]): StoreDocuments =>
  plan.reduce((at, step) => step.migrate(at), docs);

/** Why a store of a later release is refused, and what to do. */
export function newerStoreMessage(where: string, found: number, version: string, known = STORE_SCHEMA): string {
  return (
    `${where} was written by schema ${found} (a newer ogent); this ogent ${version} knows schema ${known}: ` +
    'upgrade ogent, or restore a backup with `ogent controller restore`; nothing was changed'
  );
}

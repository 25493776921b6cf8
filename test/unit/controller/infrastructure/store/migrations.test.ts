import { expect } from 'chai';
import type { Agent } from '../../../../../src/domain/model.js';
import {
  builtBy,
  changedBy,
  migrate,
  migrationPlan,
  MIGRATIONS,
  NewerStoreError,
  newerStoreMessage,
  STORE_SCHEMA,
  type Migration,
} from '../../../../../src/controller/infrastructure/store/migrations.js';

const v1Agent: Agent = {
  id: 'a1',
  name: 'web-1',
  status: 'offline',
  labels: { role: 'web' },
  info: null,
  lastSeen: null,
};
const docs = (agents: Agent[]) => ({ users: [], agents, enrollments: [] });

describe('store migrations (pure)', () => {
  it('plans every step from the first release to this one, and none from this one', () => {
    expect(migrationPlan(1).map((m) => [m.from, m.to])).to.deep.equal([
      [1, 2],
      [2, 3],
    ]);
    expect(migrationPlan(STORE_SCHEMA)).to.deep.equal([]);
  });

  it('refuses a schema newer than this release knows, and one that is no version', () => {
    expect(() => migrationPlan(STORE_SCHEMA + 1)).to.throw(NewerStoreError);
    expect(() => migrationPlan(0)).to.throw(/not a version/);
    expect(() => migrationPlan(1.5)).to.throw(/not a version/);
  });

  it('says so when a step is missing from the list', () => {
    const jump: Migration = { from: 1, to: 3, describe: 'x', changes: [], migrate: (d) => d };
    expect(migrationPlan(1, 3, [jump])).to.have.length(1);
    expect(() => migrationPlan(1, 3, [])).to.throw(/no migration from schema 1/);
  });

  it('1→2: an agent of the first release keeps its labels as the reported ones, with no admin labels', () => {
    const [after] = migrate(docs([v1Agent]), migrationPlan(1)).agents;
    expect(after).to.deep.include({ labels: { role: 'web' }, reportedLabels: { role: 'web' }, adminLabels: {} });
    expect(v1Agent).to.not.have.property('reportedLabels');
  });

  it('1→2 is idempotent and leaves agents that already have reported labels alone', () => {
    const today: Agent = {
      ...v1Agent,
      labels: { role: 'db', a: '1' },
      reportedLabels: { a: '1' },
      adminLabels: { role: 'db' },
    };
    const once = migrate(docs([v1Agent, today]), migrationPlan(1));
    expect(migrate(once, migrationPlan(1))).to.deep.equal(once);
    expect(once.agents[1]).to.equal(today);
  });

  it('2→3 rewrites no document and has the store build the index of unfinished jobs', () => {
    const plan = migrationPlan(2);
    expect(plan.map((m) => [m.from, m.to])).to.deep.equal([[2, 3]]);
    expect(changedBy(plan)).to.deep.equal([]);
    expect(builtBy(plan)).to.deep.equal(['unfinished-jobs']);
    expect(builtBy(migrationPlan(1))).to.deep.equal(['unfinished-jobs']);
    expect(migrate(docs([v1Agent]), plan)).to.deep.equal(docs([v1Agent]));
  });

  it('lists what a plan rewrites once, and names both versions when refusing a store', () => {
    expect(changedBy([...MIGRATIONS, ...MIGRATIONS])).to.deep.equal(['agents']);
    expect(newerStoreMessage('the store in /x', 3, '0.2.0', 2)).to.equal(
      'the store in /x was written by schema 3 (a newer ogent); this ogent 0.2.0 knows schema 2: upgrade ogent, ' +
        'or restore a backup with `ogent controller restore`; nothing was changed',
    );
  });
});

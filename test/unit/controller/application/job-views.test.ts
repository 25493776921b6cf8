import { expect } from 'chai';
import type { Job } from '../../../../src/domain/model.js';
import { envViewOf, jobFor, JobViews, REDACTED } from '../../../../src/controller/application/job-views.js';
import { notFound } from '../../../../src/controller/application/errors.js';

const job = (id: string, env?: Record<string, string>): Job =>
  ({ id, command: 'true', target: [], env, createdBy: 'olga', runs: [], summary: {} }) as unknown as Job;

describe('Job views: who sees env values, and lists in pages', () => {
  it('env values go to admins and the creator; other operators and viewers see the names only', () => {
    const j = job('j1', { DB_PASSWORD: 'hunter2', MODE: 'fast' });
    expect(envViewOf(j, { name: 'root', role: 'admin' })).to.equal('values');
    expect(envViewOf(j, { name: 'olga', role: 'operator' })).to.equal('values');
    expect(envViewOf(j, { name: 'oscar', role: 'operator' })).to.equal('names');
    expect(envViewOf(j, { name: 'vera', role: 'viewer' })).to.equal('names');
    expect(jobFor(j, { name: 'vera', role: 'viewer' }).env).to.deep.equal({ DB_PASSWORD: REDACTED, MODE: REDACTED });
    expect(j.env?.DB_PASSWORD, 'the stored document is not changed').to.equal('hunter2');
    expect(jobFor(j, { name: 'olga', role: 'operator' })).to.equal(j);
    expect(jobFor(job('j2'), { name: 'vera', role: 'viewer' }).env).to.equal(undefined);
  });

  it('lists newest first through pages of the store, up to the limit, from before', async () => {
    const all = Array.from({ length: 45 }, (_, i) => job(`j${String(i).padStart(3, '0')}`));
    const pages: number[] = [];
    const views = new JobViews({
      get: async (id) => all.find((j) => j.id === id) ?? Promise.reject(notFound(id)),
      list: async (limit, before) => {
        pages.push(limit);
        return all
          .filter((j) => before === undefined || j.id < before)
          .reverse()
          .slice(0, limit);
      },
    });
    const viewer = { name: 'vera', role: 'viewer' } as const;
    const briefs = await views.list(viewer, 30);
    expect(briefs.map((b) => b.id)).to.deep.equal(
      all
        .map((j) => j.id)
        .reverse()
        .slice(0, 30),
    );
    expect(pages).to.deep.equal([20, 10]);
    expect((await views.list(viewer, 1000, 'j010')).map((b) => b.id)).to.deep.equal(
      all
        .slice(0, 10)
        .map((j) => j.id)
        .reverse(),
    );
    await views.list({ name: 'a-1', role: 'agent' }, 1).then(
      () => expect.fail('an agent identity listed jobs'),
      (err: Error) => expect(err.message).to.match(/cannot read jobs/),
    );
  });
});

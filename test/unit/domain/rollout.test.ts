import { expect } from 'chai';
import fc from 'fast-check';
import type { Job, RunStatus } from '../../../src/domain/model.js';
import { canaryState, newJob, planRollout, refreshJob, runIdOf, runOf } from '../../../src/domain/rollout.js';
import { isTerminal } from '../../../src/domain/run-state.js';
import type { Target } from '../../../src/domain/targets.js';

const CREATED = '2030-01-01T00:00:00.000Z';
const T0 = Date.parse(CREATED);

const target = (i: number): Target => ({ id: `a${i}`, name: `agent-${i}`, labels: {} });

const jobOf = (targets: number, settings: Partial<Job> = {}): Job => {
  const job = newJob({
    id: 'j1',
    now: CREATED,
    createdBy: 'alice',
    spec: { command: 'uptime', executor: 'shell' },
    settings: { target: ['*'], timeoutMs: 60_000 },
    targets: Array.from({ length: targets }, (_, i) => target(i)),
  });
  return Object.assign(job, settings);
};

const STATUSES: RunStatus[] = ['queued', 'dispatched', 'running', 'succeeded', 'failed', 'lost', 'unreachable'];

/** A job whose runs are in any state, with any window, error budget and wait; and which agents are connected. */
const scenario = fc.record({
  statuses: fc.array(fc.constantFrom(...STATUSES), { minLength: 1, maxLength: 40 }),
  connected: fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
  maxConcurrency: fc.option(fc.integer({ min: 1, max: 10 }), { nil: undefined }),
  maxErrors: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }),
  deliverWithinMs: fc.option(fc.integer({ min: 1, max: 10_000 }), { nil: undefined }),
  canary: fc.option(fc.integer({ min: 1, max: 40 }), { nil: undefined }),
  batchWaitMs: fc.option(fc.integer({ min: 1, max: 10_000 }), { nil: undefined }),
  /** --batch-wait: when the next batch may start, relative to creation, if a batch already ended. */
  nextBatchInMs: fc.option(fc.integer({ min: 0, max: 20_000 }), { nil: undefined }),
  cancelRequested: fc.boolean(),
  elapsedMs: fc.integer({ min: 0, max: 20_000 }),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

const setUp = (s: Scenario) => {
  const job = jobOf(s.statuses.length, {
    ...(s.maxConcurrency !== undefined ? { maxConcurrency: s.maxConcurrency } : {}),
    ...(s.maxErrors !== undefined ? { maxErrors: s.maxErrors } : {}),
    ...(s.deliverWithinMs !== undefined ? { deliverWithinMs: s.deliverWithinMs } : {}),
    ...(s.canary !== undefined ? { canary: Math.min(s.canary, s.statuses.length) } : {}),
    ...(s.batchWaitMs !== undefined && s.maxConcurrency !== undefined ? { batchWaitMs: s.batchWaitMs } : {}),
    ...(s.nextBatchInMs !== undefined && s.batchWaitMs !== undefined && s.maxConcurrency !== undefined
      ? { nextBatchAt: new Date(T0 + s.nextBatchInMs).toISOString() }
      : {}),
    ...(s.cancelRequested ? { cancelRequested: true } : {}),
  });
  job.runs.forEach((run, i) => {
    run.status = s.statuses[i] as RunStatus;
    // Every run that left the queue other than unreachable was sent once.
    if (run.status !== 'queued' && run.status !== 'unreachable') run.dispatchedAt = CREATED;
  });
  const isConnected = (id: string) => s.connected[Number(id.slice(1))] === true;
  return { job, isConnected, before: job.runs.map((r) => r.status) };
};

describe('rollout (domain/rollout.ts)', () => {
  it('a new job has one queued run per target, ids JOBID_INDEX, in the order given', () => {
    const job = jobOf(3);
    expect(job.runs.map((r) => r.id)).to.deep.equal(['j1_0', 'j1_1', 'j1_2']);
    expect(job.runs.map((r) => r.agent.name)).to.deep.equal(['agent-0', 'agent-1', 'agent-2']);
    expect(job.runs.every((r) => r.status === 'queued')).to.equal(true);
    expect(job.status).to.equal('running');
    expect(job.summary.total).to.equal(3);
    expect(runOf(job, runIdOf('j1', 2))).to.equal(job.runs[2]);
    expect(runOf(job, 'j1_9')).to.equal(undefined);
    expect(runOf(job, 'j2_0')).to.equal(undefined);
  });

  it('a plan gives each target its command; the job shows the first, runs that differ carry theirs', () => {
    const job = newJob({
      id: 'j1',
      now: CREATED,
      createdBy: 'alice',
      spec: { command: 'ignored', executor: 'shell' },
      settings: { target: ['*'], timeoutMs: 1000 },
      targets: [target(0), target(1)],
      planned: {
        commands: { a0: 'apt update', a1: 'dnf check-update' },
        ai: {
          mode: 'generate',
          model: 'm',
          proposals: [],
          confirmedBy: 'alice',
          confirmedAt: CREATED,
          confirmedWith: 'yes',
          allowHighRisk: false,
        },
      },
    });
    expect(job.command).to.equal('apt update');
    expect(job.runs[0]?.command).to.equal(undefined);
    expect(job.runs[1]?.command).to.equal('dnf check-update');
    expect(job.ai?.mode).to.equal('generate');
  });

  it('percentages resolve against the number of runs', () => {
    const job = newJob({
      id: 'j1',
      now: CREATED,
      createdBy: 'alice',
      spec: { command: 'true', executor: 'shell' },
      settings: { target: ['*'], timeoutMs: 1000, maxConcurrency: '25%', maxErrors: '50%' },
      targets: Array.from({ length: 8 }, (_, i) => target(i)),
    });
    expect(job.maxConcurrency).to.equal(2);
    expect(job.maxErrors).to.equal(4);
  });

  it('changes only queued runs, and only to dispatched, unreachable or skipped', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { job, isConnected, before } = setUp(s);
        const { toSend, settled } = planRollout(job, isConnected, T0 + s.elapsedMs);
        job.runs.forEach((run, i) => {
          if (before[i] !== 'queued') expect(run.status).to.equal(before[i]);
          else expect(['queued', 'dispatched', 'unreachable', 'skipped']).to.include(run.status);
        });
        expect(toSend.every((r) => r.status === 'dispatched')).to.equal(true);
        expect(settled.every((r) => r.status === 'unreachable' || r.status === 'skipped')).to.equal(true);
        const changed = job.runs.filter((r, i) => r.status !== before[i]);
        expect(changed.length).to.equal(toSend.length + settled.length);
      }),
    );
  });

  it('never sends a run to an agent that is not connected, nor beyond the window', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { job, isConnected } = setUp(s);
        const { toSend } = planRollout(job, isConnected, T0 + s.elapsedMs);
        expect(toSend.every((r) => isConnected(r.agent.id))).to.equal(true);
        const inFlight = job.runs.filter((r) => r.status === 'dispatched' || r.status === 'running').length;
        if (job.maxConcurrency !== undefined && toSend.length > 0) expect(inFlight).to.be.at.most(job.maxConcurrency);
      }),
    );
  });

  it('a cancelled job, or one past its error budget, starts nothing more', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { job, isConnected } = setUp(s);
        const errors = job.runs.filter((r) => isTerminal(r.status) && r.status !== 'succeeded').length;
        const { toSend } = planRollout(job, isConnected, T0 + s.elapsedMs);
        if (job.cancelRequested || (job.maxErrors !== undefined && errors > job.maxErrors)) {
          expect(toSend).to.deep.equal([]);
          expect(job.runs.some((r) => r.status === 'queued')).to.equal(false);
        }
      }),
    );
  });

  it('an offline agent’s run waits until deliverWithinMs has passed, then is unreachable', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        // (Runs after pending canaries are not looked at yet; after failed ones they are skipped.)
        const { job, isConnected, before } = setUp({
          ...s,
          cancelRequested: false,
          maxErrors: undefined,
          canary: undefined,
        });
        const now = T0 + s.elapsedMs;
        planRollout(job, isConnected, now);
        job.runs.forEach((run, i) => {
          if (before[i] !== 'queued' || isConnected(run.agent.id)) return;
          const waiting = now < T0 + (job.deliverWithinMs ?? 0);
          expect(run.status).to.equal(waiting ? 'queued' : 'unreachable');
        });
      }),
    );
  });

  it('without an error budget, planning again at the same time with the same agents changes nothing', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        // (With one, the runs it just found unreachable count as errors and may skip the rest: that is the point.)
        const { job, isConnected } = setUp({ ...s, maxErrors: undefined });
        planRollout(job, isConnected, T0 + s.elapsedMs);
        const once = JSON.stringify(job);
        const again = planRollout(job, isConnected, T0 + s.elapsedMs);
        expect(again.toSend.length + again.settled.length).to.equal(0);
        expect(JSON.stringify(job)).to.equal(once);
      }),
    );
  });

  it('--canary: runs after the canaries start only once all of them succeeded; one that did not skips them', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { job, isConnected, before } = setUp({ ...s, canary: s.canary ?? 1 });
        const state = canaryState(job);
        const { toSend } = planRollout(job, isConnected, T0 + s.elapsedMs);
        const rest = job.runs.slice(job.canary);
        if (state !== 'passed') expect(toSend.filter((r) => rest.includes(r))).to.deep.equal([]);
        if (state === 'failed') {
          rest.forEach((run, i) => {
            if (before[(job.canary ?? 0) + i] === 'queued') expect(run.status).to.equal('skipped');
          });
        }
      }),
    );
  });

  it('--batch-wait: nothing starts while a run is in flight, nor before the next batch’s time', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { job, isConnected } = setUp({
          ...s,
          maxConcurrency: s.maxConcurrency ?? 2,
          batchWaitMs: s.batchWaitMs ?? 1000,
        });
        const inFlight = job.runs.some((r) => r.status === 'dispatched' || r.status === 'running');
        const sentBefore = job.runs.some((r) => r.dispatchedAt !== undefined);
        const now = T0 + s.elapsedMs;
        const at = job.nextBatchAt === undefined ? undefined : Date.parse(job.nextBatchAt);
        const { toSend, wakeAt } = planRollout(job, isConnected, now);
        if (inFlight || (sentBefore && (at === undefined || now < at))) expect(toSend).to.deep.equal([]);
        if (wakeAt !== undefined) expect(wakeAt).to.be.above(now);
        if (toSend.length > 0) expect(job.nextBatchAt).to.equal(undefined);
      }),
    );
  });

  it('--canary 1 on a failing command: the canary alone runs, then the other five are skipped', () => {
    const job = jobOf(6, { canary: 1 });
    expect(planRollout(job, () => true, T0).toSend.map((r) => r.id)).to.deep.equal(['j1_0']);
    expect(job.runs.slice(1).every((r) => r.status === 'queued')).to.equal(true);
    Object.assign(job.runs[0] as object, { status: 'failed' });
    const { toSend, settled } = planRollout(job, () => true, T0 + 10);
    expect(toSend).to.deep.equal([]);
    expect(settled.map((r) => r.status)).to.deep.equal(Array(5).fill('skipped'));
    expect(job.runs[1]?.error).to.match(/canary/);
  });

  it('--canary 2 that succeed: the rest start, within --max-concurrency', () => {
    const job = jobOf(6, { canary: 2, maxConcurrency: 3 });
    expect(planRollout(job, () => true, T0).toSend.map((r) => r.id)).to.deep.equal(['j1_0', 'j1_1']);
    Object.assign(job.runs[0] as object, { status: 'succeeded' });
    // One canary still running: the rest wait, though the window has room.
    expect(planRollout(job, () => true, T0 + 1).toSend).to.deep.equal([]);
    Object.assign(job.runs[1] as object, { status: 'succeeded' });
    expect(planRollout(job, () => true, T0 + 2).toSend.map((r) => r.id)).to.deep.equal(['j1_2', 'j1_3', 'j1_4']);
  });

  it('--canary with --max-concurrency 1: the canaries too go one at a time', () => {
    const job = jobOf(4, { canary: 2, maxConcurrency: 1 });
    expect(planRollout(job, () => true, T0).toSend.map((r) => r.id)).to.deep.equal(['j1_0']);
    Object.assign(job.runs[0] as object, { status: 'succeeded' });
    expect(planRollout(job, () => true, T0 + 1).toSend.map((r) => r.id)).to.deep.equal(['j1_1']);
  });

  it('--canary above the number of targets: every run is a canary, all start at once', () => {
    const job = newJob({
      id: 'j1',
      now: CREATED,
      createdBy: 'alice',
      spec: { command: 'true', executor: 'shell' },
      settings: { target: ['*'], timeoutMs: 1000, canary: 10 },
      targets: Array.from({ length: 3 }, (_, i) => target(i)),
    });
    expect(job.canary).to.equal(3);
    expect(planRollout(job, () => true, T0).toSend).to.have.length(3);
  });

  it('--batch-wait without --max-concurrency is not kept (the request check refuses it before)', () => {
    const job = newJob({
      id: 'j1',
      now: CREATED,
      createdBy: 'alice',
      spec: { command: 'true', executor: 'shell' },
      settings: { target: ['*'], timeoutMs: 1000, batchWaitMs: 5000 },
      targets: [target(0)],
    });
    expect(job.batchWaitMs).to.equal(undefined);
  });

  it('--batch-wait: batches of --max-concurrency, the next one batchWaitMs after the last of the previous ended', () => {
    const job = jobOf(5, { maxConcurrency: 2, batchWaitMs: 1000 });
    expect(planRollout(job, () => true, T0).toSend.map((r) => r.id)).to.deep.equal(['j1_0', 'j1_1']);
    Object.assign(job.runs[0] as object, { status: 'succeeded' });
    // Not a rolling window: the room run 0 left is not filled.
    expect(planRollout(job, () => true, T0 + 10).toSend).to.deep.equal([]);
    Object.assign(job.runs[1] as object, { status: 'succeeded' });
    const ended = planRollout(job, () => true, T0 + 20);
    expect(ended.toSend).to.deep.equal([]);
    expect(ended.wakeAt).to.equal(T0 + 1020);
    expect(job.nextBatchAt).to.equal(new Date(T0 + 1020).toISOString());
    // Planned again (a run ended elsewhere, a restart): the wait is not pushed back.
    expect(planRollout(job, () => true, T0 + 1019).wakeAt).to.equal(T0 + 1020);
    expect(planRollout(job, () => true, T0 + 1020).toSend.map((r) => r.id)).to.deep.equal(['j1_2', 'j1_3']);
    expect(job.nextBatchAt).to.equal(undefined);
  });

  it('--batch-wait after canaries: they are the first batch', () => {
    const job = jobOf(4, { canary: 1, maxConcurrency: 2, batchWaitMs: 500 });
    expect(planRollout(job, () => true, T0).toSend.map((r) => r.id)).to.deep.equal(['j1_0']);
    Object.assign(job.runs[0] as object, { status: 'succeeded' });
    expect(planRollout(job, () => true, T0 + 100).wakeAt).to.equal(T0 + 600);
    expect(planRollout(job, () => true, T0 + 600).toSend.map((r) => r.id)).to.deep.equal(['j1_1', 'j1_2']);
  });

  it('refreshJob ends the job once every run is terminal, and keeps its first finishedAt', () => {
    const job = jobOf(2);
    job.runs.forEach((r) => (r.status = 'succeeded'));
    refreshJob(job, new Date(T0 + 1000));
    expect(job.status).to.equal('succeeded');
    expect(job.summary.succeeded).to.equal(2);
    refreshJob(job, new Date(T0 + 5000));
    expect(job.finishedAt).to.equal(new Date(T0 + 1000).toISOString());
  });
});

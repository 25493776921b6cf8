import type { Run } from '../../src/domain/model.js';

/** A run of agent `name` as a new job has it (queued, no output), with `over` on top: for unit tests of pure code. */
export const runFixture = (name: string, over: Partial<Run> = {}): Run => ({
  id: `j1_${name}`,
  agent: { id: name, name },
  status: 'queued',
  exitCode: null,
  signal: null,
  stdout: '',
  stderr: '',
  seq: 0,
  startedAt: null,
  finishedAt: null,
  durationMs: null,
  ...over,
});

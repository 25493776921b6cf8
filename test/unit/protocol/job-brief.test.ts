import { expect } from 'chai';
import type { Job } from '../../../src/domain/model.js';
import { summarize } from '../../../src/domain/run-state.js';
import { BRIEF_COMMAND_CHARS, BRIEF_TARGET_CHARS, jobBriefOf } from '../../../src/protocol/job-brief.js';

const job = (over: Partial<Job> = {}): Job => ({
  id: 'j0abc',
  command: 'uptime',
  executor: 'shell',
  target: ['role=web'],
  timeoutMs: 1000,
  env: { DB_PASSWORD: 'hunter2' },
  script: '#!/bin/sh\necho hi\n',
  status: 'succeeded',
  createdBy: 'olga',
  createdAt: '2026-01-01T00:00:00.000Z',
  finishedAt: '2026-01-01T00:00:01.000Z',
  runs: [
    {
      id: 'j0abc_0',
      agent: { id: 'a1', name: 'web-1' },
      status: 'succeeded',
      exitCode: 0,
      signal: null,
      stdout: 'up 3 days\n',
      stderr: '',
      seq: 1,
      startedAt: null,
      finishedAt: null,
      durationMs: null,
    },
  ],
  summary: summarize([]),
  ...over,
});

describe('jobBriefOf (the jobs list entry)', () => {
  it('keeps what a list shows and drops runs, output, env and script', () => {
    expect(jobBriefOf(job())).to.deep.equal({
      id: 'j0abc',
      command: 'uptime',
      executor: 'shell',
      target: ['role=web'],
      status: 'succeeded',
      createdBy: 'olga',
      createdAt: '2026-01-01T00:00:00.000Z',
      finishedAt: '2026-01-01T00:00:01.000Z',
      summary: summarize([]),
    });
  });

  it('cuts a long command and says so, without splitting a surrogate pair', () => {
    const brief = jobBriefOf(job({ command: 'x'.repeat(70_000) }));
    expect(brief.command).to.equal('x'.repeat(BRIEF_COMMAND_CHARS));
    expect(brief.commandTruncated).to.equal(true);
    const emoji = jobBriefOf(job({ command: `${'x'.repeat(BRIEF_COMMAND_CHARS - 1)}😀 and more` }));
    expect(emoji.command).to.equal('x'.repeat(BRIEF_COMMAND_CHARS - 1));
    expect(jobBriefOf(job({ command: 'x'.repeat(BRIEF_COMMAND_CHARS) }))).not.to.have.property('commandTruncated');
  });

  it('keeps at most BRIEF_TARGET_CHARS characters of selectors, and says when it cut', () => {
    const brief = jobBriefOf(job({ target: Array.from({ length: 64 }, (_, i) => `${i}`.padEnd(1024, 'y')) }));
    expect(brief.target).to.have.length(1);
    expect(brief.target.join('')).to.have.length(BRIEF_TARGET_CHARS);
    expect(brief.targetTruncated).to.equal(true);
    const two = jobBriefOf(job({ target: ['a'.repeat(1000), 'b'.repeat(100)] }));
    expect(two.target).to.deep.equal(['a'.repeat(1000), 'b'.repeat(24)]);
    expect(two.targetTruncated).to.equal(true);
    expect(jobBriefOf(job({ target: [] })))
      .to.deep.include({ target: [] })
      .and.not.to.have.property('targetTruncated');
  });
});

import { expect } from 'chai';
import {
  KNOWN_CAPABILITIES,
  lackReason,
  missing,
  rejectLacking,
  requiredBy,
  unknownRequirement,
} from '../../../src/domain/capabilities.js';
import type { Agent, AgentInfo, Run } from '../../../src/domain/model.js';
import { runFixture } from '../../helpers/runs.js';

const info = (version: string, capabilities?: string[]): AgentInfo => ({
  name: 'web-3',
  hostname: 'web-3',
  platform: 'linux',
  arch: 'x64',
  release: '6.1',
  cpus: 2,
  memoryBytes: 1,
  uptimeS: 1,
  version,
  labels: {},
  executors: ['shell'],
  ...(capabilities ? { capabilities } : {}),
});
const agent = (id: string, i: AgentInfo | null): Agent => ({
  id,
  name: id,
  status: 'online',
  labels: {},
  info: i,
  lastSeen: null,
});
const run = (id: string, agentId: string, via?: string): Run =>
  runFixture(agentId, { id, ...(via ? { via: { id: via, name: via } } : {}) });

describe('domain/capabilities', () => {
  it('a first-release peer (no capabilities field) lacks every capability', () => {
    expect(missing(['stdin'], undefined)).to.deep.equal(['stdin']);
    expect(missing(['stdin', 'files'], ['files'])).to.deep.equal(['stdin']);
    expect(missing([], undefined)).to.deep.equal([]);
  });

  it('names the agent, its version and what it cannot do', () => {
    expect(lackReason(['stdin'], 'web-3', info('0.1.0'))).to.equal(
      'agent web-3 runs ogent 0.1.0, which cannot take stdin: upgrade it',
    );
    expect(lackReason(['teleport'], 'web-3', info('0.1.0'))).to.equal(
      'agent web-3 runs ogent 0.1.0, which cannot do "teleport": upgrade it',
    );
    expect(lackReason(['requires'], 'web-3', info('0.1.0'))).to.equal(
      'agent web-3 runs ogent 0.1.0, which cannot check what a command requires: upgrade it',
    );
    expect(lackReason(['stdin'], 'web-3', null)).to.match(/an unknown version of ogent/);
    expect(lackReason(['stdin'], 'web-3', info('0.2.0', ['stdin']))).to.equal(undefined);
  });

  it('rejects at once exactly the runs whose runner lacks a capability (the via agent for ssh hosts)', () => {
    const agents = [agent('old', info('0.1.0')), agent('new', info('0.2.0', ['stdin']))];
    const runs = [run('r0', 'old'), run('r1', 'new'), run('r2', 'old/db', 'old'), run('r3', 'gone')];
    rejectLacking(runs, ['stdin'], agents, '2026-12-02T00:00:00.000Z');
    expect(runs.map((r) => r.status)).to.deep.equal(['rejected', 'queued', 'rejected', 'rejected']);
    expect(runs[0]?.error).to.equal('agent old runs ogent 0.1.0, which cannot take stdin: upgrade it');
    expect(runs[2]?.error).to.match(/^agent old runs ogent 0\.1\.0/);
    expect(runs[0]?.finishedAt).to.equal('2026-12-02T00:00:00.000Z');
    expect(runs[1]?.error).to.equal(undefined);
  });

  it('a job with stdin requires agents that take it; one without requires nothing', () => {
    expect(requiredBy({ stdin: { bytes: 0, ended: false } })).to.deep.equal(['stdin']);
    expect(requiredBy({ stdin: true })).to.deep.equal(['stdin']);
    expect(requiredBy({})).to.deep.equal([]);
    expect(KNOWN_CAPABILITIES).to.include('stdin');
  });

  it('an agent refuses a command that requires what it does not know, and takes what it knows', () => {
    expect(unknownRequirement(undefined, '0.2.0')).to.equal(undefined);
    expect(unknownRequirement([...KNOWN_CAPABILITIES], '0.2.0')).to.equal(undefined);
    expect(unknownRequirement(['teleport'], '0.2.0')).to.equal(
      'this agent runs ogent 0.2.0, which does not know "teleport": upgrade it',
    );
  });
});

import { expect } from 'chai';
import { accept, enrolled, register, relabel } from '../../../src/domain/agent-labels.js';
import type { AgentInfo } from '../../../src/domain/model.js';

const info = (labels: Record<string, string>, over: Partial<AgentInfo> = {}): AgentInfo => ({
  name: 'a-1',
  hostname: 'host-a',
  platform: 'linux',
  arch: 'x64',
  release: '6.1',
  cpus: 2,
  memoryBytes: 1024,
  uptimeS: 10,
  version: '0.1.0',
  labels,
  executors: ['shell'],
  ...over,
});

describe('agent labels (pure)', () => {
  const first = register(undefined, info({ role: 'web' }, { sshHosts: ['x', 'y'] }), 'id-1', 't0').agent;

  it('pins the first registration and holds nothing', () => {
    expect(first.labels).to.deep.equal({ role: 'web' });
    expect(first.reportedLabels).to.deep.equal({ role: 'web' });
    expect(first.pending).to.equal(undefined);
  });

  it('a report with the same labels and facts (other uptime, ssh hosts in another order) changes nothing', () => {
    const again = register(first, info({ role: 'web' }, { uptimeS: 99, sshHosts: ['y', 'x'] }), 'id-2', 't1');
    expect(again.held).to.deep.equal([]);
    expect(again.agent.pending).to.equal(undefined);
    expect(again.agent.id).to.equal('id-1');
    expect(again.agent.info?.uptimeS).to.equal(99);
  });

  it('an upgrade (another version) is taken at once, not held', () => {
    const upgraded = register(first, info({ role: 'web' }, { version: '0.2.0', sshHosts: ['x', 'y'] }), 'id-2', 't1');
    expect(upgraded.held).to.deep.equal([]);
    expect(upgraded.agent.info?.version).to.equal('0.2.0');
  });

  it('holds other labels and routing facts, keeps the pinned ones, and accept takes them', () => {
    const { agent, held } = register(first, info({ role: 'db' }, { hostname: 'db-1', sshHosts: [] }), 'id-2', 't1');
    expect(held).to.deep.equal(['labels', 'hostname', 'sshHosts']);
    expect(agent.labels).to.deep.equal({ role: 'web' });
    expect(agent.info?.hostname).to.equal('host-a');
    expect(agent.info?.sshHosts).to.deep.equal(['x', 'y']);
    expect(agent.pending).to.deep.equal({
      labels: { role: 'db' },
      facts: { hostname: 'db-1', sshHosts: [] },
      since: 't1',
    });
    const later = register(agent, info({ role: 'db' }, { hostname: 'db-1', sshHosts: [] }), 'id-3', 't2').agent;
    expect(later.pending?.since).to.equal('t1');
    const taken = accept(later);
    expect(taken?.labels).to.deep.equal({ role: 'db' });
    expect(taken?.info?.hostname).to.equal('db-1');
    expect(taken?.pending).to.equal(undefined);
    expect(accept(first)).to.equal(undefined);
  });

  it("admin labels win over reported ones, survive reports, and removal takes the agent's own too", () => {
    const labelled = relabel(first, { role: 'db', tier: 'gold' }, []);
    expect(labelled.labels).to.deep.equal({ role: 'db', tier: 'gold' });
    const reported = register(labelled, info({ role: 'web' }), 'id-2', 't1').agent;
    expect(reported.labels).to.deep.equal({ role: 'db', tier: 'gold' });
    const removed = relabel(reported, {}, ['role']);
    expect(removed.labels).to.deep.equal({ tier: 'gold' });
    expect(register(removed, info({ role: 'web' }), 'id-2', 't2').agent.pending?.labels).to.deep.equal({ role: 'web' });
  });

  it("an enrolled record's first registration pins what the agent reports under the token's labels", () => {
    const record = enrolled(undefined, 'a-1', { role: 'web' }, 'id-9');
    const { agent, held } = register(record, info({ role: 'db', dc: 'par1' }), 'id-10', 't1');
    expect(held).to.deep.equal([]);
    expect(agent.id).to.equal('id-9');
    expect(agent.labels).to.deep.equal({ role: 'web', dc: 'par1' });
  });
});

import { expect } from 'chai';
import { AgentManager } from '../../src/agent/manager.js';
import { buildExecutors } from '../../src/agent/executors/index.js';
import { ResultSpool } from '../../src/agent/spool.js';
import type { RunningController } from '../../src/controller/index.js';
import { KNOWN_CAPABILITIES } from '../../src/domain/capabilities.js';
import type { Agent } from '../../src/domain/model.js';
import { EV } from '../../src/protocol/events.js';
import { silentLogger } from '../../src/lib/log.js';
import { VERSION } from '../../src/lib/version.js';
import { Fixtures, waitFor } from '../helpers/fixtures.js';
import { agentInfo, http, RawAgent } from './support.js';

/** Versions on the wire (docs/protocol.md §9): who says what it can do, and who refuses what it does not know. */
describe('capabilities on the wire (real controller, real agents)', () => {
  const fx = new Fixtures();
  let controller: RunningController;
  let admin: string;

  beforeEach(async () => {
    controller = await fx.controller({ dataDir: await fx.tempDir() });
    admin = await fx.adminToken(controller);
  });
  afterEach(() => fx.cleanup());

  const agentRecord = async (name: string) => {
    const res = await http(controller.url, `/api/v1/agents/${name}`, { token: admin });
    expect(res.status, res.text).to.equal(200);
    return res.body as unknown as Agent;
  };

  it('GET /healthz says the controller version and capabilities', async () => {
    const res = await http(controller.url, '/healthz');
    expect(res.body.version).to.equal(VERSION);
    expect(res.body.capabilities).to.deep.equal([...KNOWN_CAPABILITIES]);
  });

  it('an agent of this release announces its capabilities; a first-release agent (none) is still taken', async () => {
    await fx.agent(controller, 'new-1');
    const old = await RawAgent.connect(controller, 'old-1', {});
    fx.defer(() => old.close());
    const fresh = await waitFor(async () => (await agentRecord('new-1')).info, 'new-1 registered');
    expect(fresh.capabilities).to.deep.equal([...KNOWN_CAPABILITIES]);
    expect(fresh.version).to.equal(VERSION);
    const first = await waitFor(async () => (await agentRecord('old-1')).info, 'old-1 registered');
    expect(first.capabilities).to.equal(undefined);
  });

  it('agent_info with a malformed capabilities list is refused', async () => {
    const agent = await RawAgent.connect(controller, 'm-1', {});
    fx.defer(() => agent.close());
    const ack = (await agent.socket
      .timeout(5000)
      .emitWithAck(EV.agentInfo, { ...agentInfo('m-1'), capabilities: 'stdin' })) as { ok: boolean; error?: string };
    expect(ack.ok).to.equal(false);
    expect(String(ack.error)).to.match(/capabilities/);
  });
});

describe('agent: execute_command with requirements (real executors)', () => {
  it('refuses a command that requires a capability it does not know, with its version; runs one it knows', () => {
    const manager = new AgentManager(new ResultSpool(null), silentLogger, buildExecutors());
    manager.attach({ sendProgress: () => {}, sendResult: async () => ({ ok: true }) });
    try {
      const base = { jobId: 'j1', command: 'true', executor: 'shell', timeoutMs: 5_000 };
      expect(manager.execute({ ...base, runId: 'j1_0', requires: ['teleport'] })).to.deep.equal({
        accepted: false,
        reason: `this agent runs ogent ${VERSION}, which does not know "teleport": upgrade it`,
      });
      expect(manager.execute({ ...base, runId: 'j1_1', requires: [...KNOWN_CAPABILITIES] })).to.deep.equal({
        accepted: true,
      });
    } finally {
      manager.close();
    }
  });
});

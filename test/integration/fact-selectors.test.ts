import { expect } from 'chai';
import os from 'node:os';
import type { RunningController } from '../../src/controller/index.js';
import { Fixtures } from '../helpers/fixtures.js';
import { createJob, finishedJob, http } from './support.js';

/** Selectors on the facts real agents report (README, Selectors), through the job API. */
describe('fact selectors (real controller, real agents)', () => {
  const fx = new Fixtures();
  let controller: RunningController;
  let admin: string;

  before(async () => {
    controller = await fx.controller({ dataDir: await fx.tempDir() });
    admin = await fx.adminToken(controller);
    await fx.agent(controller, 'f-1');
    await fx.agent(controller, 'f-2', { platform: 'plan9' });
  });
  after(() => fx.cleanup());

  it(`-t platform=${os.platform()} picks the agents that report it, unless a label says otherwise`, async () => {
    const job = await createJob(controller, admin, { command: 'echo hi', target: [`platform=${os.platform()}`] });
    expect(job.runs.map((r) => r.agent.name)).to.deep.equal(['f-1']);
    expect((await finishedJob(controller, admin, job.id)).status).to.equal('succeeded');
    const labelled = await createJob(controller, admin, { command: 'true', target: ['platform=plan9'] });
    expect(labelled.runs.map((r) => r.agent.name)).to.deep.equal(['f-2']);
  });

  it('a fact value no agent has matches nothing (422 no_match, exit 5 in exec)', async () => {
    const res = await http(controller.url, '/api/v1/jobs', {
      method: 'POST',
      token: admin,
      type: 'application/json',
      body: JSON.stringify({ command: 'true', target: ['distro=nosuchdistro'] }),
    });
    expect(res.status).to.equal(422);
    expect(res.text).to.match(/no agent matched -t 'distro=nosuchdistro'/);
  });

  it(`-t arch=${os.arch()} with a name class picks by both`, async () => {
    const job = await createJob(controller, admin, { command: 'true', target: [`arch=${os.arch()}`, 'f-[12]'] });
    expect(job.runs.map((r) => r.agent.name)).to.deep.equal(['f-1', 'f-2']);
  });
});

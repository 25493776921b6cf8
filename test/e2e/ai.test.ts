import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import type { RunningController } from '../../src/controller/index.js';
import type { Job, Plan } from '../../src/domain/model.js';
import { runCli } from '../helpers/cli.js';
import { ADMIN_PASSWORD, Fixtures } from '../helpers/fixtures.js';
import { FakeChatServer, json } from '../helpers/ai-server.js';

const API_KEY = 'sk-test-123';

describe('exec --ai and --review (real bin/run.js, a local chat-completions server)', function () {
  this.timeout(30_000);
  const fx = new Fixtures();
  let ai: FakeChatServer;
  let controller: RunningController;
  let dir: string;
  let marker: string;

  const cli = (args: string[]) =>
    runCli(['exec', ...args], {
      env: { OGENT_CONTROLLER: controller.url, OGENT_USERNAME: 'admin', OGENT_PASSWORD: ADMIN_PASSWORD },
    });
  const jobs = () => controller.jobs.list(10);
  /** What a model would propose: writes the marker file, so a test knows whether it ran. */
  const proposal = (risk: string) => ({
    command: `echo ai-ran > ${marker}; echo "from ai"`,
    explanation: 'Writes a marker file and says hello.',
    risk,
    risks: risk === 'low' ? [] : ['overwrites the marker file'],
  });

  beforeEach(async () => {
    ai = await new FakeChatServer().start();
    fx.defer(() => ai.stop());
    controller = await fx.controller({
      ai: { baseUrl: ai.baseUrl, model: 'test-model', apiKey: API_KEY, timeoutMs: 5000 },
    });
    await fx.agent(controller, 'box');
    dir = await fx.tempDir();
    marker = join(dir, 'marker');
  });
  afterEach(() => fx.cleanup());

  it('asks for a command for the OS, shows it, runs it with --yes and records it in the job', async () => {
    ai.reply = () => json(proposal('low'));
    const res = await cli(['-t', 'box', '--ai', '--yes', '--json', 'say hello and leave a marker']);
    expect(res.code, res.stderr).to.equal(0);
    expect(res.stderr).to.include(`command:  echo ai-ran > ${marker}; echo "from ai"`);
    expect(res.stderr).to.include('risk:     low');
    expect(existsSync(marker)).to.equal(true);

    const job = JSON.parse(res.stdout) as Job;
    expect(job.runs[0]?.stdout).to.equal('from ai\n');
    expect(job.command).to.equal(proposal('low').command);
    expect(job.ai).to.include({
      mode: 'generate',
      request: 'say hello and leave a marker',
      model: 'test-model',
      confirmedBy: 'admin',
      confirmedWith: 'yes',
      allowHighRisk: false,
    });
    expect(job.ai?.proposals).to.have.length(1);
    expect(job.ai?.proposals[0]).to.include({ command: proposal('low').command, risk: 'low' });
    expect(job.ai?.proposals[0]?.agents).to.deep.equal(['box']);

    expect(ai.requests).to.have.length(1);
    const sent = ai.requests[0];
    expect(sent?.headers.authorization).to.equal(`Bearer ${API_KEY}`);
    expect(sent?.body.model).to.equal('test-model');
    expect(sent?.body.response_format).to.deep.equal({ type: 'json_object' });
    expect(ai.prompt().user).to.equal('say hello and leave a marker');
    const info = (await controller.agents.find('box')).info;
    expect(ai.prompt().system).to.include(info?.os ?? info?.platform);
  });

  it('refuses without --yes when there is no terminal, after printing the proposal (exit 2)', async () => {
    ai.reply = () => json(proposal('low'));
    const res = await cli(['-t', 'box', '--ai', 'say hello']);
    expect(res.code).to.equal(2);
    expect(res.stderr).to.include(`echo ai-ran > ${marker}`);
    expect(res.stderr).to.include('pass --yes');
    expect(existsSync(marker)).to.equal(false);
    expect(await jobs()).to.have.length(0);
  });

  it('refuses a high-risk proposal without --allow-high-risk, even with --yes (exit 2)', async () => {
    ai.reply = () => json(proposal('high'));
    const res = await cli(['-t', 'box', '--ai', '--yes', 'wipe something']);
    expect(res.code).to.equal(2);
    expect(res.stderr).to.include('risk:     HIGH');
    expect(res.stderr).to.include('overwrites the marker file');
    expect(res.stderr).to.include('--allow-high-risk');
    expect(existsSync(marker)).to.equal(false);
    expect(await jobs()).to.have.length(0);
  });

  it('runs a high-risk proposal with --yes --allow-high-risk', async () => {
    ai.reply = () => json(proposal('high'));
    const res = await cli(['-t', 'box', '--ai', '--yes', '--allow-high-risk', 'wipe something']);
    expect(res.code, res.stderr).to.equal(0);
    expect(res.stdout).to.include('box: from ai');
    expect(existsSync(marker)).to.equal(true);
    const [job] = await jobs();
    expect(job?.ai).to.include({ allowHighRisk: true, confirmedWith: 'yes' });
  });

  for (const [what, content] of [
    ['not JSON', `Sure! Run this: echo ai-ran > MARKER`],
    [
      'JSON with an unknown risk',
      JSON.stringify({ ...{ command: 'echo ai-ran > MARKER' }, explanation: 'x', risk: 'none', risks: [] }),
    ],
    ['JSON without risks', JSON.stringify({ command: 'echo ai-ran > MARKER', explanation: 'x', risk: 'low' })],
    ['an empty command', JSON.stringify({ command: '  ', explanation: 'x', risk: 'low', risks: [] })],
    ['a JSON array', JSON.stringify([{ command: 'echo ai-ran > MARKER', explanation: 'x', risk: 'low', risks: [] }])],
  ] as const) {
    it(`never runs a malformed answer: ${what} (exit 1)`, async () => {
      ai.reply = () => ({ content: content.replace('MARKER', marker) });
      const res = await cli(['-t', 'box', '--ai', '--yes', '--allow-high-risk', 'leave a marker']);
      expect(res.code).to.equal(1);
      expect(res.stderr).to.match(/the AI's answer is not (JSON|valid)/);
      expect(res.stderr).to.include('nothing was run');
      expect(existsSync(marker)).to.equal(false);
      expect(await jobs()).to.have.length(0);
    });
  }

  it('gives up on a slow endpoint after --ai-timeout, with a clear message (exit 1)', async () => {
    await fx.cleanup();
    ai = await new FakeChatServer().start();
    fx.defer(() => ai.stop());
    controller = await fx.controller({ ai: { baseUrl: ai.baseUrl, model: 'slow-model', timeoutMs: 300 } });
    await fx.agent(controller, 'box');
    ai.reply = () => ({ ...json(proposal('low')), delayMs: 10_000 });
    const res = await cli(['-t', 'box', '--ai', '--yes', 'say hello']);
    expect(res.code).to.equal(1);
    expect(res.stderr).to.include('did not answer within 300 ms');
    expect(res.stderr).to.include('--ai-timeout');
    expect(await jobs()).to.have.length(0);
  });

  it('--dry-run shows the plan and runs nothing (exit 0)', async () => {
    ai.reply = () => json(proposal('medium'));
    const text = await cli(['-t', 'box', '--ai', '--dry-run', 'say hello']);
    expect(text.code, text.stderr).to.equal(0);
    expect(text.stdout).to.include(`echo ai-ran > ${marker}`);
    expect(text.stdout).to.include('risk:     MEDIUM');
    const asJson = await cli(['-t', 'box', '--ai', '--dry-run', '--json', 'say hello']);
    expect(asJson.code).to.equal(0);
    const plan = JSON.parse(asJson.stdout) as Plan;
    expect(plan).to.include({ mode: 'generate', request: 'say hello', risk: 'medium', createdBy: 'admin' });
    expect(existsSync(marker)).to.equal(false);
    expect(await jobs()).to.have.length(0);
  });

  it('--review reviews a literal command, then runs it as given', async () => {
    ai.reply = () => json({ explanation: 'Prints a word.', risk: 'low', risks: [] });
    const res = await cli(['-t', 'box', '--review', '--yes', '--', 'echo', 'reviewed']);
    expect(res.code, res.stderr).to.equal(0);
    expect(res.stderr).to.include('AI review (test-model)');
    expect(res.stdout).to.include('box: reviewed');
    expect(ai.prompt().user).to.include('echo reviewed');
    const [job] = await jobs();
    expect(job?.command).to.equal('echo reviewed');
    expect(job?.ai).to.include({ mode: 'review', confirmedBy: 'admin' });
    expect(job?.ai?.proposals[0]).to.include({ command: 'echo reviewed', explanation: 'Prints a word.' });
  });

  it('--review of a high-risk command refuses without --allow-high-risk', async () => {
    ai.reply = () => json({ explanation: 'Deletes the marker.', risk: 'high', risks: ['data loss'] });
    const res = await cli(['-t', 'box', '--review', '--yes', '--', `echo ai-ran > ${marker}`]);
    expect(res.code).to.equal(2);
    expect(existsSync(marker)).to.equal(false);
  });

  it('fails at once with how to configure AI when the controller has no endpoint (exit 2)', async () => {
    await fx.cleanup();
    controller = await fx.controller();
    await fx.agent(controller, 'box');
    for (const flag of ['--ai', '--review']) {
      const res = await cli(['-t', 'box', flag, '--yes', 'uptime']);
      expect(res.code, flag).to.equal(2);
      expect(res.stderr).to.include('AI is not configured on this controller');
      expect(res.stderr).to.include('--ai-base-url URL --ai-model MODEL');
    }
    expect(await jobs()).to.have.length(0);
  });
});

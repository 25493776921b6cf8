import { expect } from 'chai';
import { runPlan, type AiOptions } from '../../src/client/exec-plan.js';
import type { RunningController } from '../../src/controller/index.js';
import { AiError } from '../../src/controller/application/ports.js';
import { ChatCompletionsClient } from '../../src/controller/infrastructure/ai/chat-completions.js';
import type { Job, Plan } from '../../src/domain/model.js';
import { EXIT } from '../../src/lib/errors.js';
import { EV, type JobRequest } from '../../src/protocol/events.js';
import { FakeChatServer, json } from '../helpers/ai-server.js';
import { ADMIN, agentWith, finished, rejection } from '../helpers/executor-helpers.js';
import { Fixtures } from '../helpers/fixtures.js';
import { http, RawAgent, userToken } from './support.js';

const lowRisk = (command: string) => json({ command, explanation: `runs ${command}`, risk: 'low', risks: [] });
const request: JobRequest = { target: [], executor: 'shell', timeoutMs: 20_000 };

describe('AI plans (controller in process, a local chat-completions server)', function () {
  const fx = new Fixtures();
  let ai: FakeChatServer;
  let controller: RunningController;

  beforeEach(async () => {
    ai = await new FakeChatServer().start();
    fx.defer(() => ai.stop());
    controller = await fx.controller({ ai: { baseUrl: ai.baseUrl, model: 'test-model', timeoutMs: 5000 } });
  });
  afterEach(() => fx.cleanup());

  it('asks once per OS family and runs each family its own command, through the normal executor path', async () => {
    await fx.agent(controller, 'deb');
    const raw = await RawAgent.connect(controller, 'other'); // says linux, no distro
    fx.defer(() => raw.close());
    const debian = (await controller.agents.find('deb')).info;
    ai.reply = (r) =>
      r.body.messages?.[0]?.content.includes('linux 6.0') ? lowRisk('echo from-other') : lowRisk('echo from-deb');

    const plan = await controller.plans.create(
      { mode: 'generate', request: 'say where you are', job: request },
      ADMIN,
      await controller.agents.list(),
    );
    expect(ai.requests).to.have.length(2);
    expect(plan.proposals.map((p) => [p.agents, p.command])).to.deep.equal([
      [['deb'], 'echo from-deb'],
      [['other'], 'echo from-other'],
    ]);
    expect(plan.proposals[0]?.os).to.equal(
      `linux/${debian?.distro}: ${debian?.os} (linux ${debian?.release}, ${debian?.arch})`,
    );

    const job = await controller.plans.run(
      plan.id,
      { confirmedWith: 'yes', allowHighRisk: false },
      ADMIN,
      await controller.agents.list(),
    );
    const sent = await raw.command(job.runs[1]?.id ?? '');
    expect(sent).to.include({ executor: 'shell', command: 'echo from-other' });
    expect(job.command).to.equal('echo from-deb');
    expect(job.runs[1]?.command).to.equal('echo from-other');
    const now = new Date().toISOString();
    await raw.emitWithAck(EV.commandResult, {
      runId: sent.runId,
      status: 'succeeded',
      exitCode: 0,
      signal: null,
      startedAt: now,
      finishedAt: now,
    });
    const done = await finished(controller, job.id);
    expect(done.status).to.equal('succeeded');
    expect(done.runs[0]?.stdout).to.equal('from-deb\n');
  });

  it('describes ssh hosts as hosts of unknown OS reached over SSH', async () => {
    await agentWith(fx, controller, 'gw', { sshHosts: { db: 'root@127.0.0.1:1' } });
    ai.reply = () => lowRisk('uptime');
    const plan = await controller.plans.create(
      { mode: 'generate', request: 'how long up', job: { ...request, executor: 'ssh' } },
      ADMIN,
      await controller.agents.list(),
    );
    expect(plan.proposals[0]?.agents).to.deep.equal(['db']);
    expect(ai.prompt().system).to.include('reached over SSH');
    expect(ai.prompt().system).to.include("the remote user's login shell");
  });

  describe('over HTTP', () => {
    const post = (path: string, token: string, body: unknown) =>
      http(controller.url, path, { method: 'POST', token, type: 'application/json', body: JSON.stringify(body) });

    beforeEach(() => fx.agent(controller, 'box'));

    it('runs a plan once, only for its author, and a high-risk one only with allowHighRisk', async () => {
      const op = await userToken(controller, 'op', 'operator');
      const other = await userToken(controller, 'op2', 'operator');
      ai.reply = () => json({ command: 'echo risky', explanation: 'x', risk: 'high', risks: ['y'] });
      const made = await post('/api/v1/plans', op, { mode: 'generate', request: 'do it', job: { target: ['box'] } });
      expect(made.status, made.text).to.equal(201);
      const plan = made.body as unknown as Plan;
      expect(plan.risk).to.equal('high');

      const unconfirmed = await post(`/api/v1/plans/${plan.id}/run`, op, { confirmedWith: 'yes' });
      expect(unconfirmed.status).to.equal(400);
      expect(unconfirmed.body.error).to.equal('high_risk');
      expect(
        (await post(`/api/v1/plans/${plan.id}/run`, other, { confirmedWith: 'yes', allowHighRisk: true })).status,
      ).to.equal(404);

      const ran = await post(`/api/v1/plans/${plan.id}/run`, op, { confirmedWith: 'yes', allowHighRisk: true });
      expect(ran.status, ran.text).to.equal(201);
      expect((ran.body as unknown as Job).ai).to.include({ confirmedBy: 'op', allowHighRisk: true });
      expect(
        (await post(`/api/v1/plans/${plan.id}/run`, op, { confirmedWith: 'yes', allowHighRisk: true })).status,
      ).to.equal(404);
    });

    it('refuses viewers, bad bodies and generate requests that carry a command', async () => {
      const viewer = await userToken(controller, 'v', 'viewer');
      const op = await userToken(controller, 'op', 'operator');
      const job = { target: ['box'] };
      expect((await post('/api/v1/plans', viewer, { mode: 'generate', request: 'x', job })).status).to.equal(403);
      expect((await post('/api/v1/plans', op, { mode: 'guess', job })).status).to.equal(400);
      expect((await post('/api/v1/plans', op, { mode: 'generate', job })).status).to.equal(400);
      const withCommand = await post('/api/v1/plans', op, {
        mode: 'generate',
        request: 'x',
        job: { ...job, command: 'id' },
      });
      expect(withCommand.status).to.equal(400);
      expect((await post('/api/v1/plans/nope/run', op, { confirmedWith: 'maybe' })).status).to.equal(400);
      expect(ai.requests).to.have.length(0);
    });
  });

  describe('confirming on a terminal', () => {
    const options: AiOptions = { mode: 'generate', dryRun: false, allowHighRisk: false, yes: false };
    const io = () => {
      const out = { stdout: '', stderr: '' };
      return {
        out,
        io: {
          stdout: { write: (t: string) => (out.stdout += t) },
          stderr: { write: (t: string) => (out.stderr += t) },
        },
      };
    };

    beforeEach(() => fx.agent(controller, 'box'));

    for (const [answer, runs] of [
      ['y', true],
      ['yes', true],
      ['n', false],
      ['', false],
    ] as const) {
      it(`answering "${answer}" ${runs ? 'runs the plan' : 'runs nothing (exit 1)'}`, async () => {
        ai.reply = () => lowRisk('echo confirmed');
        const session = {
          controller: controller.url,
          token: async () => (await controller.auth.issueFor('admin')).token,
        };
        const questions: string[] = [];
        const { io: sink, out } = io();
        const result = await runPlan(
          { ...request, command: 'say it', target: ['box'] },
          options,
          session,
          sink,
          'plain',
          {
            interactive: true,
            ask: async (q) => {
              questions.push(q);
              return answer;
            },
          },
        );
        expect(questions).to.deep.equal(['Run it on 1 target? [y/N] ']);
        expect(out.stderr).to.include('command:  echo confirmed');
        if (runs) {
          const job = result as Job;
          expect(job.ai).to.include({ confirmedWith: 'prompt', confirmedBy: 'admin' });
          expect((await finished(controller, job.id)).runs[0]?.stdout).to.equal('confirmed\n');
        } else {
          expect(result).to.equal(EXIT.runsFailed);
          expect(await controller.jobs.list(10)).to.have.length(0);
        }
      });
    }
  });
});

describe('ChatCompletionsClient', () => {
  let ai: FakeChatServer;
  beforeEach(async () => (ai = await new FakeChatServer().start()));
  afterEach(() => ai.stop());
  const client = (timeoutMs = 5000, baseUrl = ai.baseUrl) =>
    new ChatCompletionsClient({ baseUrl: `${baseUrl}/`, model: 'm1', apiKey: 'k', timeoutMs });
  const failure = async (c: ChatCompletionsClient) => (await rejection(c.completeJson([]))) as AiError;

  it('returns the content of the first choice', async () => {
    ai.reply = () => ({ content: '{"a":1}' });
    expect(await client().completeJson([{ role: 'user', content: 'hi' }])).to.equal('{"a":1}');
    expect(ai.requests[0]?.body).to.deep.include({
      model: 'm1',
      temperature: 0,
      messages: [{ role: 'user', content: 'hi' }],
    });
  });

  it('says what to fix on an HTTP error', async () => {
    ai.reply = () => ({ status: 401, body: JSON.stringify({ error: { message: 'bad key' } }) });
    const err = await failure(client());
    expect(err).to.be.instanceOf(AiError);
    expect(err.code).to.equal('ERR_AI_HTTP');
    expect(err.message).to.include('HTTP 401: bad key: check OGENT_AI_API_KEY');
    expect(err.message).to.not.include(' k ');
  });

  it('says when the model was not found (HTTP 404)', async () => {
    ai.reply = () => ({ status: 404, body: 'model "m1" not found' });
    expect((await failure(client())).message).to.include('check --ai-base-url');
  });

  it('refuses a body that is not a chat completion, or a cut-off answer', async () => {
    ai.reply = () => ({ status: 200, body: '{"result": "x"}' });
    expect((await failure(client())).code).to.equal('ERR_AI_RESPONSE');
    ai.reply = () => ({
      status: 200,
      body: JSON.stringify({ choices: [{ finish_reason: 'length', message: { content: '{"comm' } }] }),
    });
    expect((await failure(client())).message).to.include('cut off');
  });

  it('gives up after its timeout', async () => {
    ai.reply = () => ({ content: '{}', delayMs: 10_000 });
    const err = await failure(client(200));
    expect(err.code).to.equal('ERR_AI_TIMEOUT');
    expect(err.message).to.include('did not answer within 200 ms');
  });

  it('says when the endpoint cannot be reached', async () => {
    const url = ai.baseUrl;
    await ai.stop();
    const err = await failure(client(5000, url));
    expect(err.code).to.equal('ERR_AI_UNREACHABLE');
    expect(err.message).to.include('check --ai-base-url');
  });
});

import { expect } from 'chai';
import { startAgent, passwordTokens, type RunningAgent } from '../../src/agent/index.js';
import type { RunningController } from '../../src/controller/index.js';
import type { Job } from '../../src/domain/model.js';
import { silentLogger } from '../../src/lib/log.js';
import { ADMIN_PASSWORD, Fixtures, waitFor } from '../helpers/fixtures.js';
import { parsePrometheusText, sampleValue, type Family } from '../helpers/metrics-text.js';
import { getJob, http } from './support.js';
import { login } from '../../src/client/http.js';

async function scrape(url: string): Promise<Map<string, Family>> {
  const res = await fetch(url);
  expect(res.status).to.equal(200);
  expect(res.headers.get('content-type')).to.match(/^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(await res.text());
}

describe('metrics (Prometheus text)', function () {
  this.timeout(30_000);
  const fx = new Fixtures();
  afterEach(() => fx.cleanup());

  const runJob = async (controller: RunningController, token: string, command: string, agent: string) => {
    const created = await http(controller.url, '/api/v1/jobs', {
      method: 'POST',
      token,
      type: 'application/json',
      body: JSON.stringify({ command, target: [agent], timeoutMs: 30_000 }),
    });
    expect(created.status, created.text).to.equal(201);
    const id = created.body.id as string;
    return waitFor(async () => {
      const job = await getJob(controller, token, id);
      return job.status !== 'running' && job;
    }, `job ${command} to end`);
  };

  it('GET /metrics parses as Prometheus text, and its counters and histograms move when jobs run', async () => {
    const controller = await fx.controller();
    await fx.agent(controller, 'm-1');
    const token = await fx.adminToken(controller);
    const metrics = `${controller.url}/metrics`;

    const before = await scrape(metrics);
    expect(sampleValue(before, 'ogent_jobs_created_total')).to.equal(0);
    expect(sampleValue(before, 'ogent_runs_finished_total', { status: 'succeeded' })).to.equal(undefined);
    expect(sampleValue(before, 'ogent_run_dispatch_to_start_seconds_count')).to.equal(0);
    expect(sampleValue(before, 'ogent_agents', { status: 'online' })).to.equal(1);
    expect(sampleValue(before, 'ogent_agents_connected')).to.equal(1);
    expect(sampleValue(before, 'ogent_sockets', { namespace: '/agents' })).to.equal(1);
    expect(sampleValue(before, 'ogent_store_bytes')).to.be.greaterThan(0);
    expect(before.get('nodejs_eventloop_lag_p99_seconds')?.type).to.equal('gauge');

    expect((await runJob(controller, token, 'echo hi', 'm-1')).status).to.equal('succeeded');
    expect((await runJob(controller, token, 'exit 3', 'm-1')).status).to.equal('failed');

    // A job's status is visible a moment before it is stored and counted as finished.
    const after = await waitFor(async () => {
      const families = await scrape(metrics);
      return sampleValue(families, 'ogent_jobs_finished_total', { status: 'failed' }) === 1 && families;
    }, 'the second job to be counted');
    expect(sampleValue(after, 'ogent_jobs_created_total')).to.equal(2);
    expect(sampleValue(after, 'ogent_jobs_finished_total', { status: 'succeeded' })).to.equal(1);
    expect(sampleValue(after, 'ogent_jobs_finished_total', { status: 'failed' })).to.equal(1);
    expect(sampleValue(after, 'ogent_runs_finished_total', { status: 'succeeded' })).to.equal(1);
    expect(sampleValue(after, 'ogent_runs_finished_total', { status: 'failed' })).to.equal(1);
    expect(sampleValue(after, 'ogent_run_dispatch_to_start_seconds_count')).to.equal(2);
    expect(sampleValue(after, 'ogent_run_duration_seconds_count')).to.equal(2);
    expect(sampleValue(after, 'ogent_result_persist_seconds_count')).to.equal(2);
    expect(sampleValue(after, 'ogent_jobs_running')).to.equal(0);
    expect(sampleValue(after, 'ogent_output_unstored_bytes')).to.equal(0);
    expect(sampleValue(after, 'ogent_runs', { status: 'running' })).to.equal(0);
  });

  it('counts runs of offline agents (unreachable) too', async () => {
    const controller = await fx.controller();
    const agent = await fx.agent(controller, 'm-2');
    const token = await fx.adminToken(controller);
    await agent.stop();
    await waitFor(async () => (await controller.agents.find('m-2')).status === 'offline', 'm-2 offline');
    expect((await runJob(controller, token, 'true', 'm-2')).summary.unreachable).to.equal(1);
    const families = await scrape(`${controller.url}/metrics`);
    expect(sampleValue(families, 'ogent_runs_finished_total', { status: 'unreachable' })).to.equal(1);
    expect(sampleValue(families, 'ogent_jobs_finished_total', { status: 'failed' })).to.equal(1);
    expect(sampleValue(families, 'ogent_agents', { status: 'offline' })).to.equal(1);
  });

  it('--no-metrics: GET /metrics is 404 and says how it was turned off', async () => {
    const controller = await fx.controller({ metrics: false });
    const res = await http(controller.url, '/metrics');
    expect(res.status).to.equal(404);
    expect(res.body.message).to.include('--no-metrics');
  });

  it("the agent's --metrics-port: runs, failures, reconnects and spool size, across a controller restart", async () => {
    const dataDir = await fx.tempDir();
    let controller = await fx.controller({ dataDir });
    const port = controller.port;
    await controller.auth.addUser({ name: 'admin', role: 'admin' }, 'ma-1', 'agent', 'pw-ma-1-123456');
    const agent: RunningAgent = await startAgent({
      controller: controller.url,
      name: 'ma-1',
      labels: {},
      stateDir: await fx.tempDir(),
      tokens: passwordTokens(controller.url, 'ma-1', 'pw-ma-1-123456'),
      log: silentLogger,
      minDelayMs: 50,
      maxDelayMs: 300,
      metricsPort: 0,
    });
    fx.defer(() => agent.stop());
    await agent.ready;
    expect(agent.metricsUrl).to.match(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const agentMetrics = () => scrape(agent.metricsUrl as string);
    const value = async (name: string, labels?: Record<string, string>) =>
      sampleValue(await agentMetrics(), name, labels);

    expect(await value('ogent_agent_connected')).to.equal(1);
    let token = await fx.adminToken(controller);
    await runJob(controller, token, 'true', 'ma-1');
    await runJob(controller, token, 'exit 2', 'ma-1');
    expect(await value('ogent_agent_runs_total', { status: 'succeeded' })).to.equal(1);
    expect(await value('ogent_agent_runs_total', { status: 'failed' })).to.equal(1);
    expect(await value('ogent_agent_run_failures_total')).to.equal(1);
    expect(await value('ogent_agent_reconnects_total')).to.equal(0);

    // The controller goes away mid-run: the result waits in the spool, then arrives after the restart.
    const created = await http(controller.url, '/api/v1/jobs', {
      method: 'POST',
      token,
      type: 'application/json',
      body: JSON.stringify({ command: 'sleep 1; echo late', target: ['ma-1'], timeoutMs: 30_000 }),
    });
    const jobId = created.body.id as string;
    await waitFor(async () => (await value('ogent_agent_runs_running')) === 1, 'the run to start');
    await controller.close();
    await waitFor(async () => (await value('ogent_agent_spool_results')) === 1, 'the result to wait in the spool');
    expect(await value('ogent_agent_connected')).to.equal(0);

    controller = await fx.controller({ dataDir, port });
    await waitFor(async () => (await value('ogent_agent_spool_results')) === 0, 'the spool to be acknowledged');
    expect(await value('ogent_agent_reconnects_total')).to.be.at.least(1);
    token = (await login(controller.url, 'admin', ADMIN_PASSWORD)).access_token;
    const job: Job = await waitFor(async () => {
      const j = await getJob(controller, token, jobId);
      return j.status !== 'running' && j;
    }, 'the job to finish');
    expect(job.status).to.equal('succeeded');
    expect(job.runs[0]?.stdout).to.equal('late\n');
  });
});

import { expect } from 'chai';
import type { RunningController } from '../../src/controller/index.js';
import type { Job, Run } from '../../src/domain/model.js';
import { runCli } from '../helpers/cli.js';
import { ADMIN_PASSWORD, Fixtures } from '../helpers/fixtures.js';

const at = (iso: string | null | undefined) => Date.parse(iso as string);
const statuses = (job: Job) => job.runs.map((r: Run) => [r.agent.name, r.status]);

/** `--canary` and `--batch-wait` (README, Rolling out to a fleet), through the real CLI and six real agents. */
describe('exec --canary, --batch-wait (real controller, 6 agents)', function () {
  this.timeout(60_000);
  const fx = new Fixtures();
  let controller: RunningController;
  let env: Record<string, string>;

  before(async () => {
    controller = await fx.controller({ dataDir: await fx.tempDir() });
    for (let i = 1; i <= 6; i++) await fx.agent(controller, `r-${i}`);
    env = {
      OGENT_CONTROLLER: controller.url,
      OGENT_USERNAME: 'admin',
      OGENT_PASSWORD: ADMIN_PASSWORD,
      XDG_CONFIG_HOME: await fx.tempDir(),
    };
  });
  after(() => fx.cleanup());

  it('--canary 1 on a failing command: the first agent by name fails, the five others are skipped (exit 1)', async () => {
    const res = await runCli(['exec', '--all', '--canary', '1', '--json', '--', 'exit 3'], { env });
    expect(res.code, res.stderr).to.equal(1);
    const job = JSON.parse(res.stdout) as Job;
    expect(job.canary).to.equal(1);
    expect(statuses(job)).to.deep.equal([
      ['r-1', 'failed'],
      ['r-2', 'skipped'],
      ['r-3', 'skipped'],
      ['r-4', 'skipped'],
      ['r-5', 'skipped'],
      ['r-6', 'skipped'],
    ]);
    expect(job.runs[1]?.error).to.match(/canary/);
    expect(job.runs.slice(1).every((r) => r.startedAt === null)).to.equal(true);
    // jobs rerun keeps the rollout: the canary goes first again, and fails again.
    const again = await runCli(['jobs', 'rerun', job.id, '--json'], { env });
    expect(again.code, again.stderr).to.equal(1);
    const rerun = JSON.parse(again.stdout) as Job;
    expect(rerun.canary).to.equal(1);
    expect(rerun.summary).to.include({ total: 6, failed: 1, skipped: 5 });
  });

  it('--canary 2 on a good command: all six succeed, the rest started after both canaries ended', async () => {
    const res = await runCli(['exec', '--all', '--canary', '2', '--json', '--', 'echo ok'], { env });
    expect(res.code, res.stderr).to.equal(0);
    const job = JSON.parse(res.stdout) as Job;
    expect(job.canary).to.equal(2);
    expect(job.summary).to.include({ total: 6, succeeded: 6 });
    const canariesEnded = Math.max(...job.runs.slice(0, 2).map((r) => at(r.finishedAt)));
    for (const run of job.runs.slice(2)) expect(at(run.dispatchedAt)).to.be.at.least(canariesEnded);
  });

  it('--batch-wait: the second batch starts no earlier than the wait after the first ended', async () => {
    const res = await runCli(
      ['exec', '-t', 'r-[1-4]', '--max-concurrency', '2', '--batch-wait', '800ms', '--json', '--', 'echo ok'],
      { env },
    );
    expect(res.code, res.stderr).to.equal(0);
    const job = JSON.parse(res.stdout) as Job;
    expect(job).to.include({ maxConcurrency: 2, batchWaitMs: 800 });
    expect(job.nextBatchAt).to.equal(undefined);
    const firstEnded = Math.max(...job.runs.slice(0, 2).map((r) => at(r.finishedAt)));
    for (const run of job.runs.slice(2)) {
      expect(run.status).to.equal('succeeded');
      expect(at(run.startedAt) - firstEnded).to.be.at.least(800);
    }
  });

  it('refuses --canary 0 and --batch-wait without --max-concurrency (exit 2), and runs nothing', async () => {
    const before = (await runCli(['jobs', 'list', '--json'], { env })).stdout;
    const zero = await runCli(['exec', '--all', '--canary', '0', '--', 'true'], { env });
    expect(zero.code).to.equal(2);
    expect(zero.stderr).to.match(/--canary/);
    const alone = await runCli(['exec', '--all', '--batch-wait', '1s', '--', 'true'], { env });
    expect(alone.code).to.equal(2);
    expect(alone.stderr).to.match(/--batch-wait needs --max-concurrency/);
    const bad = await runCli(['exec', '--all', '--max-concurrency', '2', '--batch-wait', 'soon', '--', 'true'], {
      env,
    });
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.match(/invalid --batch-wait "soon"/);
    expect((await runCli(['jobs', 'list', '--json'], { env })).stdout).to.equal(before);
  });
});

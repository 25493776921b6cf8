import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Job } from '../../src/domain/model.js';
import { runCli, startDaemon, type Daemon } from '../helpers/cli.js';

/** `jobs show ID --follow` attaches like `jobs wait ID` (issue 3). */
describe('jobs show --follow', function () {
  this.timeout(60_000);
  let root: string;
  let controller: Daemon & { match: RegExpMatchArray };
  let env: Record<string, string>;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'ogent-follow-'));
    controller = await startDaemon(
      [
        'controller',
        'serve',
        '--port',
        '0',
        '--data-dir',
        join(root, 'data'),
        '--local-agent',
        '--local-agent-name',
        'box',
      ],
      /listening on (http:\/\/\S+)/,
      { env: { OGENT_ADMIN_PASSWORD: 'admin-password-1' } },
    );
    env = {
      OGENT_CONTROLLER: controller.match[1] as string,
      OGENT_USERNAME: 'admin',
      OGENT_PASSWORD: 'admin-password-1',
      XDG_CONFIG_HOME: root,
    };
  });
  after(async () => {
    await controller.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('prints the running job live and exits with its code', async () => {
    const started = await runCli(['exec', '-t', 'box', '--async', '--', 'sleep 1; echo followed; exit 3'], { env });
    expect(started.code, started.stderr).to.equal(0);
    const id = started.stdout.trim();
    const res = await runCli(['jobs', 'show', id, '--follow', '--no-tui'], { env });
    expect(res.code).to.equal(1);
    expect(res.stdout).to.equal('box: followed\n');
    expect(res.stderr).to.match(/box: \[exit 3\]/);
  });

  it('with --json prints the finished job document only', async () => {
    const started = await runCli(['exec', '-t', 'box', '--async', '--', 'sleep 0.5; echo done'], { env });
    const id = started.stdout.trim();
    const res = await runCli(['jobs', 'show', id, '--follow', '--json'], { env });
    expect(res.code, res.stderr).to.equal(0);
    const job = JSON.parse(res.stdout) as Job;
    expect(job.id).to.equal(id);
    expect(job.status).to.equal('succeeded');
    expect(job.runs[0]?.stdout).to.equal('done\n');
  });
});

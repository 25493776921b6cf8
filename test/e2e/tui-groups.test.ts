import { expect } from 'chai';
import type { RunningController } from '../../src/controller/index.js';
import { BIN } from '../helpers/cli.js';
import { ADMIN_PASSWORD, Fixtures } from '../helpers/fixtures.js';
import { quote, Terminal } from '../helpers/tmux.js';

/** The live view leaves the answers on screen (README, Output): a job of 20 agents that ends in a blink. */
describe('the live view ends with the grouped answers (tmux, a real controller and 20 agents)', function () {
  this.timeout(90_000);
  const fx = new Fixtures();
  let controller: RunningController;
  let terminal: Terminal;
  let configHome: string;

  before(async () => {
    await Terminal.check();
    controller = await fx.controller({ dataDir: await fx.tempDir() });
    await Promise.all(Array.from({ length: 20 }, (_, i) => fx.agent(controller, `a-${i + 1}`)));
    configHome = await fx.tempDir();
    terminal = new Terminal(`ogent-groups-${process.pid}`);
  });
  after(async () => {
    await terminal.kill();
    await fx.cleanup();
  });

  it('after the last frame: one header for the shared answer, the odd one apart, and where to see all', async () => {
    const env = [
      `OGENT_CONTROLLER=${quote(controller.url)}`,
      'OGENT_USERNAME=admin',
      `OGENT_PASSWORD=${quote(ADMIN_PASSWORD)}`,
      `XDG_CONFIG_HOME=${quote(configHome)}`,
      'TERM=xterm-256color',
    ];
    const unset = Object.keys(process.env)
      .filter((k) => ['CI', 'CONTINUOUS_INTEGRATION', 'NO_COLOR'].includes(k))
      .map((k) => `-u ${k}`);
    const command = 'echo fine; echo line2';
    const window = await terminal.open(
      `env ${unset.join(' ')} ${env.join(' ')} ${quote(process.execPath)} ${quote(BIN)} exec -t 'a-*' -- ${quote(command)}`,
    );
    expect(await window.exitCode()).to.equal(0);
    const screen = await window.screen();
    expect(screen).to.match(/^a-\[1-20\] \(20\)$/m);
    expect(screen).to.match(/^ {2}fine$/m);
    expect(screen).to.match(/^ {2}line2$/m);
    expect(screen).to.match(/^all of it: ogent jobs show j\S+ --group$/m);
    expect(screen).to.match(/job j\S+ succeeded: 20 succeeded/);
  });
});

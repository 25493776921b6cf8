import { expect } from 'chai';
import { Command, Config } from '@oclif/core';
import { fileURLToPath } from 'node:url';
import { COMMAND_MODULES, lazyCommand } from '../../src/command-modules.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A real command that says what it was run with. */
class Echo extends Command {
  static override description = 'echo';
  async run(): Promise<string> {
    return `${this.id ?? '-'} ${this.argv.join(' ')}`;
  }
}

describe('the command table: each command imported when it runs', () => {
  it('a stand-in imports its command only when run, and runs it with the argv and the id oclif gave', async () => {
    let imports = 0;
    const stand = lazyCommand(async () => {
      imports++;
      return { default: Echo as unknown as Command.Class };
    });
    stand.id = 'jobs:echo';
    expect(imports).to.equal(0);
    const config = await Config.load(ROOT);
    expect(await stand.run(['a', 'b'], config)).to.equal('jobs:echo a b');
    expect(imports).to.equal(1);
    expect(Echo.id).to.equal('jobs:echo');
  });

  it('a stand-in passes on what its command throws', async () => {
    class Fails extends Command {
      async run(): Promise<void> {
        this.error('no such job', { exit: 4 });
      }
    }
    const stand = lazyCommand(async () => ({ default: Fails as unknown as Command.Class }));
    const err = await stand.run([], await Config.load(ROOT)).then(
      () => null,
      (e: Error & { oclif?: { exit: number } }) => e,
    );
    expect(err?.message).to.equal('no such job');
    expect(err?.oclif?.exit).to.equal(4);
  });

  it('every module in the table has a command class as its default export', async () => {
    expect(Object.keys(COMMAND_MODULES)).to.include.members(['exec', 'agent:run', 'controller:serve', 'jobs:list']);
    for (const [id, load] of Object.entries(COMMAND_MODULES)) {
      const { default: command } = await load();
      expect(command.prototype, id).to.be.instanceOf(Command);
      expect(command.description ?? command.summary, id).to.be.a('string');
    }
  });
});

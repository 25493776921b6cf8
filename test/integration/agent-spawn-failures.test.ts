import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentManager, type AgentLink } from '../../src/agent/manager.js';
import { buildExecutors, type Executor } from '../../src/agent/executors/index.js';
import { ResultSpool } from '../../src/agent/spool.js';
import { silentLogger } from '../../src/lib/log.js';
import type { CommandResult, ExecuteCommand } from '../../src/protocol/events.js';
import { waitFor } from '../helpers/fixtures.js';

/**
 * What the controller's checks would refuse, sent straight to the agent's manager with its real executors and real
 * processes: a run that cannot start ends `failed` with the reason, and the agent (this process) goes on.
 */
describe('agent: a run that cannot start fails, the agent lives on (real executors)', () => {
  let dir: string;
  let manager: AgentManager;
  let results: CommandResult[];
  let n = 0;

  const link: AgentLink = {
    sendProgress: () => {},
    sendResult: async (r) => {
      results.push(r);
      return { ok: true };
    },
  };
  const run = async (fields: Partial<ExecuteCommand>): Promise<CommandResult> => {
    const runId = `j${++n}_0`;
    const ack = manager.execute({
      runId,
      jobId: `j${n}`,
      command: 'true',
      executor: 'shell',
      timeoutMs: 10_000,
      ...fields,
    });
    expect(ack).to.deep.equal({ accepted: true });
    return waitFor(() => results.find((r) => r.runId === runId), `the result of ${runId}`);
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ogent-spawn-'));
    results = [];
    manager = new AgentManager(new ResultSpool(null), silentLogger, buildExecutors());
    manager.attach(link);
  });
  afterEach(async () => {
    manager.close();
    await rm(dir, { recursive: true, force: true });
  });

  const cases: Array<[string, Partial<ExecuteCommand>, RegExp]> = [
    ['a shell command with a NUL byte', { command: 'echo a\0b' }, /null bytes/],
    ['an exec argument with a NUL byte', { executor: 'exec', args: ['echo', 'a\0b'] }, /null bytes/],
    [
      'a script argument with a NUL byte',
      { executor: 'script', script: '#!/bin/sh\necho hi\n', args: ['a\0b'] },
      /null bytes/,
    ],
    ['an ssh command with a NUL byte', { executor: 'ssh', sshTarget: 'localhost', command: 'echo a\0b' }, /null bytes/],
    ['an env value with a NUL byte', { env: { A: 'a\0b' } }, /null bytes/],
    ['a cwd with a NUL byte', { cwd: '/tmp\0x' }, /null bytes/],
  ];
  for (const [what, fields, reason] of cases) {
    it(`${what}: the run is failed with the reason`, async () => {
      const result = await run(fields);
      expect(result).to.include({ status: 'failed', exitCode: null });
      expect(result.error).to.match(reason);
      // and the agent still runs commands
      expect(await run({ command: 'exit 0' })).to.include({ status: 'succeeded', exitCode: 0 });
    });
  }

  it('a cwd that is a file: the run is failed with the reason', async () => {
    const file = join(dir, 'a-file');
    await writeFile(file, 'x');
    const result = await run({ cwd: file });
    expect(result).to.include({ status: 'failed', exitCode: null });
    expect(result.error).to.match(/not a directory|ENOTDIR/);
  });

  it('an executor that throws, or whose process promise rejects, fails its run and nothing else', async () => {
    const throwing: Executor = {
      start: () => {
        throw new Error('no such thing');
      },
    };
    const rejecting: Executor = {
      start: () => ({
        pid: undefined,
        onOutput: () => {},
        pause: () => {},
        resume: () => {},
        done: Promise.reject(new Error('gone before it began')),
        killTree: () => {},
      }),
    };
    manager = new AgentManager(new ResultSpool(null), silentLogger, { ...buildExecutors(), throwing, rejecting });
    manager.attach(link);
    expect(await run({ executor: 'throwing' })).to.include({
      status: 'failed',
      error: 'the command could not be run: no such thing',
    });
    expect(await run({ executor: 'rejecting' })).to.include({
      status: 'failed',
      error: 'the command could not be run: gone before it began',
    });
    expect(await run({ command: 'exit 0' })).to.include({ status: 'succeeded' });
  });
});

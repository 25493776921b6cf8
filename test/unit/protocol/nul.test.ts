import { expect } from 'chai';
import { executeCommandCheck, jobRequestCheck } from '../../../src/protocol/events.js';
import { parse, PayloadError, type Check } from '../../../src/protocol/validate.js';

const NUL = 'a\0b';
const job = { command: 'true', target: ['a-1'] };
const execute = { runId: 'j1_0', jobId: 'j1', command: 'true', executor: 'shell', timeoutMs: 1000 };

/** [check, payload with a NUL byte, the field the error names] */
const CASES: Array<[string, Check<unknown>, Record<string, unknown>, string]> = [
  ['job command', jobRequestCheck, { ...job, command: NUL }, 'command'],
  ['job args', jobRequestCheck, { ...job, command: undefined, executor: 'exec', args: ['ls', NUL] }, 'args[1]'],
  ['job env value', jobRequestCheck, { ...job, env: { GREETING: NUL } }, 'env.GREETING'],
  ['job cwd', jobRequestCheck, { ...job, cwd: `/tmp/${NUL}` }, 'cwd'],
  ['job script name', jobRequestCheck, { ...job, scriptName: NUL }, 'scriptName'],
  ['job ssh target', jobRequestCheck, { ...job, sshTarget: `host${NUL}` }, 'sshTarget'],
  ['execute_command command', executeCommandCheck, { ...execute, command: NUL }, 'command'],
  ['execute_command args', executeCommandCheck, { ...execute, args: [NUL] }, 'args[0]'],
  ['execute_command env value', executeCommandCheck, { ...execute, env: { A: NUL } }, 'env.A'],
  ['execute_command cwd', executeCommandCheck, { ...execute, cwd: NUL }, 'cwd'],
  ['execute_command ssh target', executeCommandCheck, { ...execute, sshTarget: `h${NUL}` }, 'sshTarget'],
];

describe('protocol: no NUL byte where a process would get it', () => {
  for (const [what, check, payload, field] of CASES) {
    it(`refuses a NUL byte in the ${what}, naming ${field}`, () => {
      expect(() => parse(check, payload))
        .to.throw(PayloadError)
        .with.property(
          'message',
          `${field} must not contain a NUL byte: no process argument, variable or path can hold one`,
        );
    });
  }

  it('refuses a NUL byte in an env name as an invalid key', () => {
    expect(() => parse(jobRequestCheck, { ...job, env: { [NUL]: 'x' } })).to.throw(PayloadError, /is not a valid key/);
  });

  it('takes a NUL byte in a script: it is the content of a file, not an argument', () => {
    const script = `#!/bin/sh\nprintf '${NUL}'\n`;
    expect(parse(jobRequestCheck, { target: [], executor: 'script', script })).to.include({ script });
  });
});

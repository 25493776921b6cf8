import { expect } from 'chai';
import {
  agentInfoCheck,
  commandProgressCheck,
  commandResultCheck,
  jobRequestCheck,
  LIMITS,
} from '../../../src/protocol/events.js';
import { planRequestCheck } from '../../../src/protocol/plans.js';
import { parse, PayloadError, type Check } from '../../../src/protocol/validate.js';
import { loginCheck, passwordCheck, userCheck } from '../../../src/controller/infrastructure/http/api.js';

const x = (n: number, c = 'x') => c.repeat(n);
const labels = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']));
const env = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`V${i}`, 'v']));
const list = (n: number, item: string) => Array.from({ length: n }, () => item);

const info = {
  name: 'a-1',
  hostname: 'h',
  platform: 'linux',
  arch: 'x64',
  release: '6.0',
  cpus: 2,
  memoryBytes: 1,
  uptimeS: 1,
  version: '0.0.0',
  labels: {},
  executors: ['shell'],
};
const job = { command: 'true', target: ['a-1'] };
const progress = { runId: 'j1_0', seq: 1, stream: 'stdout', data: 'x' };
const now = new Date().toISOString();
const result = { runId: 'j1_0', status: 'succeeded', exitCode: 0, signal: null, startedAt: now, finishedAt: now };

/** [what, check, payload at the limit, payload one past it, the path the error names] */
const BOUNDS: Array<[string, Check<unknown>, unknown, unknown, string]> = [
  ['agent name', agentInfoCheck, { ...info, name: x(LIMITS.nameChars) }, { ...info, name: x(64) }, 'name'],
  ['labels per agent', agentInfoCheck, { ...info, labels: labels(64) }, { ...info, labels: labels(65) }, 'labels'],
  [
    'label key',
    agentInfoCheck,
    { ...info, labels: { [x(63)]: 'v' } },
    { ...info, labels: { [x(64)]: 'v' } },
    'labels.',
  ],
  ['label value', agentInfoCheck, { ...info, labels: { k: x(253) } }, { ...info, labels: { k: x(254) } }, 'labels.k'],
  ['hostname', agentInfoCheck, { ...info, hostname: x(255) }, { ...info, hostname: x(256) }, 'hostname'],
  [
    'executors',
    agentInfoCheck,
    { ...info, executors: list(16, 'shell') },
    { ...info, executors: list(17, 'shell') },
    'executors',
  ],
  [
    'ssh hosts',
    agentInfoCheck,
    { ...info, sshHosts: list(1024, 'db') },
    { ...info, sshHosts: list(1025, 'db') },
    'sshHosts',
  ],
  [
    'output chunk (string)',
    commandProgressCheck,
    { ...progress, data: x(LIMITS.progressBytes) },
    { ...progress, data: x(LIMITS.progressBytes + 1) },
    'data',
  ],
  [
    'output chunk (binary)',
    commandProgressCheck,
    { ...progress, data: Buffer.alloc(LIMITS.progressBytes, 'x') },
    { ...progress, data: Buffer.alloc(LIMITS.progressBytes + 1, 'x') },
    'data',
  ],
  ['run id', commandProgressCheck, { ...progress, runId: x(64) }, { ...progress, runId: x(65) }, 'runId'],
  [
    'result error',
    commandResultCheck,
    { ...result, error: x(LIMITS.errorChars) },
    { ...result, error: x(LIMITS.errorChars + 1) },
    'error',
  ],
  [
    'command',
    jobRequestCheck,
    { ...job, command: x(LIMITS.commandBytes) },
    { ...job, command: x(LIMITS.commandBytes + 1) },
    'command',
  ],
  ['selectors', jobRequestCheck, { ...job, target: list(64, 'a-*') }, { ...job, target: list(65, 'a-*') }, 'target'],
  ['selector', jobRequestCheck, { ...job, target: [x(1024)] }, { ...job, target: [x(1025)] }, 'target[0]'],
  ['via selectors', jobRequestCheck, { ...job, via: list(64, 'gw') }, { ...job, via: list(65, 'gw') }, 'via'],
  ['environment variables', jobRequestCheck, { ...job, env: env(128) }, { ...job, env: env(129) }, 'env'],
  [
    'environment value',
    jobRequestCheck,
    { ...job, env: { V: x(32 * 1024) } },
    { ...job, env: { V: x(32 * 1024 + 1) } },
    'env.V',
  ],
  ['arguments', jobRequestCheck, { ...job, args: list(1024, 'a') }, { ...job, args: list(1025, 'a') }, 'args'],
  [
    'argument',
    jobRequestCheck,
    { ...job, args: [x(LIMITS.commandBytes)] },
    { ...job, args: [x(LIMITS.commandBytes + 1)] },
    'args[0]',
  ],
  [
    'script',
    jobRequestCheck,
    { ...job, script: x(LIMITS.commandBytes) },
    { ...job, script: x(LIMITS.commandBytes + 1) },
    'script',
  ],
  ['cwd', jobRequestCheck, { ...job, cwd: x(4096) }, { ...job, cwd: x(4097) }, 'cwd'],
  ['script name', jobRequestCheck, { ...job, scriptName: x(255) }, { ...job, scriptName: x(256) }, 'scriptName'],
  [
    'AI request',
    planRequestCheck,
    { mode: 'generate', request: x(4096), job },
    { mode: 'generate', request: x(4097), job },
    'request',
  ],
  ['login user name', loginCheck, { username: x(128), password: 'p' }, { username: x(129), password: 'p' }, 'username'],
  [
    'login password',
    loginCheck,
    { username: 'u', password: x(1024) },
    { username: 'u', password: x(1025) },
    'password',
  ],
  ['user name', userCheck, { name: x(LIMITS.nameChars), role: 'viewer' }, { name: x(64), role: 'viewer' }, 'name'],
  ['new password', passwordCheck, { password: x(1024) }, { password: x(1025) }, 'password'],
];

describe('Payload bounds (LIMITS, src/protocol/events.ts)', () => {
  for (const [what, check, atLimit, over, path] of BOUNDS) {
    it(`${what}: accepted at the limit, refused one past it naming ${path}`, () => {
      expect(() => parse(check, atLimit)).to.not.throw();
      expect(() => parse(check, over))
        .to.throw(PayloadError)
        .with.property('message')
        .that.satisfies((m: string) => m.startsWith(path));
    });
  }

  it('a __proto__ key in labels or env is refused, not dropped', () => {
    const labelsProto = JSON.parse('{"__proto__": "x"}') as unknown;
    expect(() => parse(agentInfoCheck, { ...info, labels: labelsProto })).to.throw(PayloadError, /labels.__proto__/);
    const envProto = JSON.parse('{"__proto__": {"polluted": "yes"}}') as unknown;
    expect(() => parse(jobRequestCheck, { ...job, env: envProto })).to.throw(PayloadError, /env.__proto__/);
    expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
    // other prototype names are plain keys: kept as own properties
    const kept = parse(agentInfoCheck, { ...info, labels: { constructor: 'c', prototype: 'p' } });
    expect(Object.entries(kept.labels)).to.deep.equal([
      ['constructor', 'c'],
      ['prototype', 'p'],
    ]);
  });

  it('the REST body limit and the socket message limit are 1 MiB', () => {
    expect(LIMITS.maxBodyBytes).to.equal(1024 * 1024);
    expect(LIMITS.maxHttpBufferSize).to.equal(1024 * 1024);
  });
});

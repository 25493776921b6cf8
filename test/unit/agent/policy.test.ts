import { expect } from 'chai';
import { CommandPolicy, parsePolicyFile, PolicyError, policySubject } from '../../../src/agent/policy.js';

describe('agent command policy (pure)', () => {
  it('deny wins over allow; with any allow rule a command must match one', () => {
    const policy = new CommandPolicy({ allow: ['^echo ', '^uptime$'], deny: ['secret'] });
    expect(policy.refuse('echo hi')).to.equal(undefined);
    expect(policy.refuse('uptime')).to.equal(undefined);
    expect(policy.refuse('uptime -p')).to.equal("refused by the agent's policy: matches no --allow rule");
    expect(policy.refuse('echo secret')).to.equal(`refused by the agent's policy: matches --deny "secret"`);
  });

  it('with no rules everything may run; deny alone refuses only what matches', () => {
    expect(new CommandPolicy({ allow: [], deny: [] }).refuse('rm -rf /')).to.equal(undefined);
    const deny = new CommandPolicy({ allow: [], deny: ['^rm '] });
    expect(deny.refuse('rm -rf /tmp/x')).to.include('--deny "^rm "');
    expect(deny.refuse('echo rm -rf')).to.equal(undefined);
  });

  it('an invalid or empty expression, or too many rules, is a PolicyError naming the flag', () => {
    expect(() => new CommandPolicy({ allow: [], deny: ['('] })).to.throw(PolicyError, /--deny "\(" is not a valid/);
    expect(() => new CommandPolicy({ allow: ['[z-a]'], deny: [] })).to.throw(PolicyError, /--allow "\[z-a\]"/);
    expect(() => new CommandPolicy({ allow: [''], deny: [] })).to.throw(PolicyError, /empty regular expression/);
    expect(() => new CommandPolicy({ allow: Array(257).fill('a'), deny: [] })).to.throw(PolicyError, /at most 256/);
    expect(() => new CommandPolicy({ allow: ['a'.repeat(1025)], deny: [] })).to.throw(PolicyError, /1024/);
  });

  it('matches shell and ssh on the command, exec on the quoted argv, script on its text and args', () => {
    expect(policySubject('shell', { command: 'rm -rf /' })).to.equal('rm -rf /');
    expect(policySubject('ssh', { command: 'uptime', sshHost: 'db' })).to.equal('uptime');
    // The agent never trusts `command` for exec and script: it is only how the job shows them.
    expect(policySubject('exec', { command: 'echo harmless', args: ['rm', '-rf', '/my dir'] })).to.equal(
      "rm -rf '/my dir'",
    );
    expect(policySubject('script', { command: 'x.sh', script: '#!/bin/sh\nreboot\n' })).to.equal('#!/bin/sh\nreboot\n');
    expect(policySubject('script', { command: 'x.sh', script: '#!/bin/sh\n', args: ['a b'] })).to.equal(
      "#!/bin/sh\n\n'a b'",
    );
  });

  it('parses policy files: lines with comments and blanks, or JSON', () => {
    expect(parsePolicyFile('# comment\n\nallow ^echo \r\n  deny rm -rf\n', 'p')).to.deep.equal({
      allow: ['^echo '],
      deny: ['rm -rf'],
    });
    expect(parsePolicyFile(' {"allow": ["^a"], "deny": []}', 'p.json')).to.deep.equal({ allow: ['^a'], deny: [] });
    expect(parsePolicyFile('{"deny": ["x"]}', 'p.json')).to.deep.equal({ allow: [], deny: ['x'] });
  });

  it('refuses bad policy files with the file and line', () => {
    expect(() => parsePolicyFile('allow ok\nallowed x\n', 'f')).to.throw(PolicyError, /policy file f, line 2/);
    expect(() => parsePolicyFile('deny\n', 'f')).to.throw(PolicyError, /line 1/);
    expect(() => parsePolicyFile('{"deny": [1]}', 'f')).to.throw(PolicyError, /"deny" must be an array of strings/);
    expect(() => parsePolicyFile('{"deny": [', 'f')).to.throw(PolicyError, /not valid JSON/);
    expect(() => parsePolicyFile('{"block": []}', 'f')).to.throw(PolicyError, /unknown key "block"/);
    expect(() => parsePolicyFile('[]', 'f')).to.throw(PolicyError, /line 1/);
  });
});

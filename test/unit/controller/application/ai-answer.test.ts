import { expect } from 'chai';
import {
  AnswerError,
  generateMessages,
  parseAnswer,
  reviewMessages,
} from '../../../../src/controller/application/ai-prompts.js';
import { SSH_FAMILY } from '../../../../src/domain/os-family.js';

const family = { key: 'linux/debian', description: 'Debian GNU/Linux 12 (bookworm) (linux 6.1.0, x64)' };
const valid = { command: 'du -ah /var/log | sort -rh | head -5', explanation: 'Lists.', risk: 'low', risks: [] };

const refused = (text: string, mode: 'generate' | 'review' = 'generate'): string => {
  try {
    parseAnswer(text, mode);
  } catch (err) {
    expect(err).to.be.instanceOf(AnswerError);
    return (err as Error).message;
  }
  throw new Error(`accepted: ${text}`);
};

describe('AI answers', () => {
  it('accepts one JSON object with every key of the right type, and drops the rest', () => {
    expect(parseAnswer(JSON.stringify({ ...valid, extra: 'x' }), 'generate')).to.deep.equal(valid);
    expect(parseAnswer(JSON.stringify({ explanation: 'ok', risk: 'medium', risks: ['a'] }), 'review')).to.deep.equal({
      explanation: 'ok',
      risk: 'medium',
      risks: ['a'],
    });
  });

  it('refuses anything else, saying why', () => {
    expect(refused('rm -rf /')).to.match(/not JSON/);
    expect(refused('```json\n{}\n```')).to.match(/not JSON/);
    expect(refused('[]')).to.match(/must be an object/);
    expect(refused(JSON.stringify({ ...valid, risk: 'LOW' }))).to.match(/risk must be one of low, medium, high/);
    expect(refused(JSON.stringify({ ...valid, risks: 'none' }))).to.match(/risks must be an array/);
    expect(refused(JSON.stringify({ ...valid, risks: [1] }))).to.match(/risks\[0\] must be a string/);
    expect(refused(JSON.stringify({ ...valid, command: 42 }))).to.match(/command must be a string/);
    expect(refused(JSON.stringify({ ...valid, command: ' \n ' }))).to.match(/command is empty/);
    expect(refused(JSON.stringify({ ...valid, command: 'ls\u0000' }))).to.match(/command has an invalid format/);
    expect(refused(JSON.stringify({ ...valid, explanation: undefined }))).to.match(/explanation must be a string/);
    expect(refused(JSON.stringify({ explanation: 'x', risk: 'extreme', risks: [] }), 'review')).to.match(/risk/);
  });

  it('asks for a command for the OS family, with the risk scale and the JSON keys', () => {
    const [system, user] = generateMessages(family, { executor: 'shell' }, 'free disk space on /var');
    expect(system?.content).to.include(family.description);
    expect(system?.content).to.include('/bin/sh -c');
    expect(system?.content).to.include('"command"');
    expect(system?.content).to.include('"risk": "low"');
    expect(user).to.deep.equal({ role: 'user', content: 'free disk space on /var' });
    expect(generateMessages(SSH_FAMILY, { executor: 'ssh' }, 'x')[0]?.content).to.include('over SSH');
  });

  it('asks for a review of exactly what runs', () => {
    expect(reviewMessages(family, { executor: 'shell', command: 'rm -rf /tmp/x' })[1]?.content).to.include(
      'rm -rf /tmp/x',
    );
    expect(
      reviewMessages(family, { executor: 'exec', command: "echo '$HOME'", args: ['echo', '$HOME'] })[1]?.content,
    ).to.include("without a shell: echo '$HOME'");
    const script = reviewMessages(family, {
      executor: 'script',
      command: 'a.sh x',
      script: '#!/bin/sh\nrm -rf /\n',
      args: ['x'],
    });
    expect(script[1]?.content).to.include('rm -rf /');
    expect(script[0]?.content).to.not.include('"command"');
  });
});

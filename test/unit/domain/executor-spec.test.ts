import { expect } from 'chai';
import { remoteCommand, sshExecutor } from '../../../src/agent/executors/ssh.js';
import { jobSpecOf, JobSpecError, parseSshDestination, quoteArgv } from '../../../src/domain/job-spec.js';
import type { Agent, AgentInfo } from '../../../src/domain/model.js';
import { osFamilyOf } from '../../../src/domain/os-family.js';
import { candidateTargets, runnerOf, TargetError } from '../../../src/domain/targets.js';

const thrown = (fn: () => unknown): Error => {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected it to throw');
};

const info = (over: Partial<AgentInfo> = {}): AgentInfo => ({
  name: 'a',
  hostname: 'h',
  platform: 'linux',
  arch: 'x64',
  release: '6.1.0',
  cpus: 1,
  memoryBytes: 1,
  uptimeS: 1,
  version: '0',
  labels: {},
  executors: ['shell', 'ssh'],
  ...over,
});
const agent = (name: string, over: Partial<AgentInfo> = {}, labels: Record<string, string> = {}): Agent => ({
  id: `id-${name}`,
  name,
  status: 'online',
  labels,
  info: info({ name, labels, ...over }),
  lastSeen: null,
});

describe('job spec per executor', () => {
  it('quotes argv the way a POSIX shell reads it back', () => {
    expect(quoteArgv(['ls', '-la', '/tmp'])).to.equal('ls -la /tmp');
    expect(quoteArgv(['echo', '$HOME', 'a b', "it's", ''])).to.equal(`echo '$HOME' 'a b' 'it'\\''s' ''`);
  });

  it('shell needs a command and nothing of the other executors', () => {
    expect(jobSpecOf({ executor: 'shell', command: 'uptime' })).to.deep.equal({ executor: 'shell', command: 'uptime' });
    expect(thrown(() => jobSpecOf({ executor: 'shell', command: ' ' })).message).to.equal('command is required');
    expect(thrown(() => jobSpecOf({ executor: 'shell', command: 'x', args: ['y'] }))).to.be.instanceOf(JobSpecError);
  });

  it('exec takes args, shown quoted as its command', () => {
    expect(jobSpecOf({ executor: 'exec', args: ['echo', '$HOME'] })).to.deep.equal({
      executor: 'exec',
      command: "echo '$HOME'",
      args: ['echo', '$HOME'],
    });
    expect(thrown(() => jobSpecOf({ executor: 'exec', args: [] })).message).to.match(/args is required/);
    expect(thrown(() => jobSpecOf({ executor: 'exec', args: ['ls'], command: 'ls' })).message).to.match(/command/);
  });

  it('script takes content with a shebang, and args', () => {
    expect(jobSpecOf({ executor: 'script', script: '#!/bin/sh\n', scriptName: 'a.sh', args: ['x y'] })).to.deep.equal({
      executor: 'script',
      command: "a.sh 'x y'",
      script: '#!/bin/sh\n',
      args: ['x y'],
    });
    expect(thrown(() => jobSpecOf({ executor: 'script', script: 'echo\n' })).message).to.match(/shebang/);
    expect(thrown(() => jobSpecOf({ executor: 'script' })).message).to.match(/script is required/);
  });

  it('ssh takes a command, and sshTarget only with via', () => {
    expect(jobSpecOf({ executor: 'ssh', command: 'id' })).to.deep.equal({ executor: 'ssh', command: 'id' });
    expect(jobSpecOf({ executor: 'ssh', command: 'id', sshTarget: 'root@h:22', via: ['gw'] })).to.include({
      sshTarget: 'root@h:22',
    });
    expect(thrown(() => jobSpecOf({ executor: 'ssh', command: 'id', sshTarget: 'h' })).message).to.match(/needs via/);
    expect(thrown(() => jobSpecOf({ executor: 'ssh', command: 'id', via: ['gw'] })).message).to.match(/only with/);
    expect(
      thrown(() => jobSpecOf({ executor: 'ssh', command: 'id', sshTarget: '-oProxyCommand=x', via: ['g'] })).message,
    ).to.match(/invalid ssh target/);
  });

  it('parses ssh destinations and refuses what ssh would read as an option', () => {
    expect(parseSshDestination('db-1')).to.deep.equal({ host: 'db-1' });
    expect(parseSshDestination('admin@10.0.0.5:2222')).to.deep.equal({ user: 'admin', host: '10.0.0.5', port: 2222 });
    expect(parseSshDestination('root@[::1]:22')).to.deep.equal({ user: 'root', host: '::1', port: 22 });
    for (const bad of ['-oProxyCommand=x', 'a b', 'h:0', 'h:70000', '@h', 'u@-h', 'h;id', '']) {
      expect(parseSshDestination(bad), bad).to.equal(null);
    }
  });
});

describe('targets', () => {
  const gw = agent('gw', { sshHosts: ['db-1', 'db-2'] }, { dc: 'par1' });
  const web = agent('web-1');

  it('are the agents themselves, except for ssh', () => {
    expect(candidateTargets({ executor: 'shell' }, [gw, web]).map((t) => t.name)).to.deep.equal(['gw', 'web-1']);
  });

  it('are the ssh hosts agents offer, with their labels and via=AGENT, for ssh', () => {
    const [first] = candidateTargets({ executor: 'ssh' }, [gw, web]);
    expect(first).to.deep.equal({
      id: 'id-gw/db-1',
      name: 'db-1',
      labels: { dc: 'par1', via: 'gw' },
      via: { id: 'id-gw', name: 'gw' },
    });
    expect(candidateTargets({ executor: 'ssh' }, [gw, web])).to.have.length(2);
  });

  it('are one destination through the one agent --via selects', () => {
    const targets = candidateTargets({ executor: 'ssh', sshTarget: 'root@h', via: ['web-*'] }, [gw, web]);
    expect(targets).to.deep.equal([
      { id: 'id-web-1/root@h', name: 'root@h', labels: {}, via: { id: 'id-web-1', name: 'web-1' } },
    ]);
    const none = thrown(() => candidateTargets({ executor: 'ssh', sshTarget: 'h', via: ['nope'] }, [gw]));
    expect(none).to.be.instanceOf(TargetError).and.have.property('kind', 'no_match');
    const many = thrown(() => candidateTargets({ executor: 'ssh', sshTarget: 'h', via: ['*'] }, [gw, web]));
    expect(many).to.be.instanceOf(TargetError).and.have.property('kind', 'ambiguous');
  });

  it('are run by their via agent, else by themselves', () => {
    expect(runnerOf({ agent: { id: 'x/h', name: 'h' }, via: { id: 'x', name: 'gw' } }).name).to.equal('gw');
    expect(runnerOf({ agent: { id: 'x', name: 'web' } }).name).to.equal('web');
  });
});

describe('OS families', () => {
  it('group Linux by distribution and name the OS for the model', () => {
    const deb = osFamilyOf(info({ os: 'Debian GNU/Linux 12 (bookworm)', distro: 'debian' }));
    expect(deb).to.deep.equal({
      key: 'linux/debian',
      description: 'Debian GNU/Linux 12 (bookworm) (linux 6.1.0, x64)',
    });
    expect(osFamilyOf(info({ platform: 'darwin', release: '23.1.0', arch: 'arm64' })).key).to.equal('darwin');
    expect(osFamilyOf(info()).key).to.equal('linux/unknown');
    expect(osFamilyOf(null).key).to.equal('unknown');
  });
});

describe('ssh executor, before anything runs', () => {
  const ssh = sshExecutor({ binary: '/usr/bin/ssh', hosts: { db: 'root@10.0.0.5:2222' } });

  it('exports the variables and enters the directory in the remote command', () => {
    expect(remoteCommand({ command: 'ls $X', env: { X: "it's" }, cwd: '/var/log' })).to.equal(
      `export X='it'\\''s'; cd /var/log || exit 1; ls $X`,
    );
    expect(remoteCommand({ command: 'uptime' })).to.equal('uptime');
  });

  it('refuses a host name the agent was not configured with, instead of resolving it as a host', () => {
    expect(ssh.refuse?.({ command: 'id', sshHost: 'db' })).to.equal(undefined);
    expect(ssh.refuse?.({ command: 'id', sshHost: 'gone' })).to.equal(
      'no ssh host "gone" on this agent (agent run --ssh-host)',
    );
    expect(ssh.refuse?.({ command: 'id', sshTarget: 'admin@h' })).to.equal(undefined);
    expect(ssh.refuse?.({ command: 'id' })).to.match(/needs a host/);
  });
});

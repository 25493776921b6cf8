import { expect } from 'chai';
import { compatibility, FIRST_RELEASE, parseVersion } from '../../../src/domain/versions.js';

const refusal = (announced: string | undefined, own: string, peer: 'agent' | 'client' | 'program' = 'agent') => {
  const verdict = compatibility(announced, own, peer);
  if (verdict.ok) throw new Error(`${announced} was accepted by ${own}`);
  expect(verdict.code).to.equal('version_unsupported');
  return verdict.message;
};

describe('versions: the compatibility policy (one minor release apart)', () => {
  it('parses x.y.z with an optional pre-release or build; nothing else', () => {
    expect(parseVersion('0.2.0')).to.deep.equal({ major: 0, minor: 2, patch: 0 });
    expect(parseVersion('1.14.3-rc.1')).to.deep.equal({ major: 1, minor: 14, patch: 3 });
    expect(parseVersion('2.0.1+build.5')).to.deep.equal({ major: 2, minor: 0, patch: 1 });
    for (const bad of ['', '0.2', 'v0.2.0', '0.2.0.1', '01.2.0', ' 0.2.0', '0.2.x', '0.2.0-', '9999999.0.0']) {
      expect(parseVersion(bad), bad).to.equal(undefined);
    }
  });

  it('a 0.2 controller accepts 0.1.x and 0.2.x agents and clients, and a peer that says nothing (the first release)', () => {
    for (const peer of ['0.1.0', '0.1.7', '0.2.0', '0.2.9', '0.2.1-rc.1', undefined]) {
      expect(compatibility(peer, '0.2.0', 'agent'), String(peer)).to.deep.equal({ ok: true });
      expect(compatibility(peer, '0.2.3', 'client'), String(peer)).to.deep.equal({ ok: true });
    }
    expect(FIRST_RELEASE).to.equal('0.1.0');
  });

  it('a 0.3 controller refuses the first release, naming both versions and the upgrade', () => {
    expect(refusal('0.1.4', '0.3.0', 'agent')).to.equal(
      'this agent runs ogent 0.1.4, which the controller (ogent 0.3.0) no longer accepts: upgrade the agent to ogent 0.2 or later',
    );
    expect(refusal(undefined, '0.3.0', 'client')).to.equal(
      'this client runs ogent 0.1.0 (it announced no version), which the controller (ogent 0.3.0) no longer accepts: upgrade the client to ogent 0.2 or later',
    );
    expect(refusal('0.0.9', '0.2.0', 'program')).to.match(/upgrade it to ogent 0\.1 or later$/);
  });

  it('a newer peer is accepted one minor release ahead (0.3 on a 0.2 controller), refused two ahead', () => {
    expect(compatibility('0.3.0', '0.2.0', 'agent')).to.deep.equal({ ok: true });
    expect(compatibility('0.3.5', '0.2.1', 'client')).to.deep.equal({ ok: true });
    expect(refusal('0.4.0', '0.2.0', 'agent')).to.equal(
      'this agent runs ogent 0.4.0, newer than the controller (ogent 0.2.0) accepts: upgrade the controller first, one minor release at a time',
    );
  });

  it('another major release is refused either way, whatever the minor', () => {
    expect(refusal('1.0.0', '0.9.0')).to.match(/newer than the controller \(ogent 0\.9\.0\)/);
    expect(refusal('0.9.0', '1.0.0')).to.match(/no longer accepts: upgrade the agent to ogent 1\.0 or later/);
    expect(compatibility('1.1.0', '1.0.0', 'agent')).to.deep.equal({ ok: true });
    expect(compatibility('2.4.0', '2.5.1', 'agent')).to.deep.equal({ ok: true });
  });

  it('an announced version that is not a version is refused, quoted and cut short', () => {
    expect(refusal('banana', '0.2.0', 'client')).to.equal(
      'this client announces ogent version "banana", which is not a version (the controller runs 0.2.0)',
    );
    expect(refusal('x'.repeat(500), '0.2.0')).to.have.length.below(200);
    expect(refusal('', '0.2.0')).to.match(/version "", which is not a version/);
  });

  it("a controller's own version that is not a version is a bug, thrown", () => {
    expect(() => compatibility('0.2.0', 'dev', 'agent')).to.throw(/"dev" is not a version/);
  });
});

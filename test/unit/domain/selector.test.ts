import { expect } from 'chai';
import type { AgentInfo } from '../../../src/domain/model.js';
import {
  matches,
  MAX_WILDCARD_TERMS,
  parseSelector,
  select,
  SelectorError,
  type Selectable,
} from '../../../src/domain/selector.js';

const agents = [
  { id: 'id-1', name: 'web-1', labels: { role: 'web', dc: 'par1' } },
  { id: 'id-2', name: 'web-2', labels: { role: 'web', dc: 'fra1' } },
  { id: 'id-3', name: 'web-3', labels: { role: 'web', dc: 'par1' } },
  { id: 'id-4', name: 'db-1', labels: { role: 'db', dc: 'par1' } },
];
const names = (exprs: string[]) => select(parseSelector(exprs), agents).map((a) => a.name);

describe('selectors', () => {
  it('matches name globs', () => {
    expect(names(['web-*'])).to.deep.equal(['web-1', 'web-2', 'web-3']);
    expect(names(['web-?'])).to.deep.equal(['web-1', 'web-2', 'web-3']);
    expect(names(['db-1'])).to.deep.equal(['db-1']);
  });

  it('matches an agent id', () => {
    expect(names(['id-4'])).to.deep.equal(['db-1']);
  });

  it('ORs comma-separated terms and ANDs repeated -t', () => {
    expect(names(['web-1,db-1'])).to.deep.equal(['web-1', 'db-1']);
    expect(names(['role=web', 'dc=par1'])).to.deep.equal(['web-1', 'web-3']);
  });

  it('matches labels with glob values and negation', () => {
    expect(names(['dc=par*'])).to.deep.equal(['web-1', 'web-3', 'db-1']);
    expect(names(['role=web', '!web-3'])).to.deep.equal(['web-1', 'web-2']);
    expect(names(['!role=web'])).to.deep.equal(['db-1']);
  });

  it('treats regex characters in globs literally', () => {
    const sel = parseSelector(['web.1']);
    expect(matches(sel, { id: 'x', name: 'web.1', labels: {} })).to.equal(true);
    expect(matches(sel, { id: 'x', name: 'webx1', labels: {} })).to.equal(false);
  });

  it('an empty selector (--all) matches everything', () => {
    expect(names([])).to.have.length(4);
  });

  it('a missing label does not match, but its negation does', () => {
    expect(names(['zone=a'])).to.deep.equal([]);
    expect(names(['!zone=a'])).to.have.length(4);
  });

  for (const bad of ['', 'web-1,', '!', '=web', 'role=', 'a=b=c', 'web 1', 'x/y']) {
    it(`refuses ${JSON.stringify(bad)}`, () => {
      expect(() => parseSelector([bad])).to.throw(SelectorError);
    });
  }

  it('bounds the terms with wildcards in one selector, over every -t, but not lists of names', () => {
    const globs = Array.from({ length: MAX_WILDCARD_TERMS }, (_, i) => `*-*a${i}*`);
    expect(() => parseSelector([globs.slice(0, 40).join(','), globs.slice(40).join(',')])).not.to.throw();
    expect(() => parseSelector([globs.join(','), 'role=w?b'])).to.throw(SelectorError, /at most 64/);
    const hosts = Array.from({ length: 2000 }, (_, i) => `web-${i}`).join(',');
    expect(names([hosts])).to.deep.equal(['web-1', 'web-2', 'web-3']);
  });
});

describe('selectors on facts', () => {
  const info = (platform: string, arch: string, distro: string | undefined, os: string): AgentInfo => ({
    name: 'x',
    hostname: `h-${arch}`,
    platform,
    arch,
    release: '6.1',
    cpus: 1,
    memoryBytes: 1,
    uptimeS: 1,
    version: '0.2.0',
    labels: {},
    executors: ['shell'],
    os,
    ...(distro ? { distro } : {}),
  });
  const fleet: Selectable[] = [
    { id: 'a', name: 'deb-1', labels: {}, info: info('linux', 'x64', 'debian', 'Debian GNU/Linux 12 (bookworm)') },
    { id: 'b', name: 'arm-1', labels: {}, info: info('linux', 'arm64', 'ubuntu', 'Ubuntu 24.04 LTS') },
    { id: 'c', name: 'mac-1', labels: {}, info: info('darwin', 'arm64', undefined, 'macOS (Darwin 23.0.0)') },
    // A label wins over the fact of the same name.
    { id: 'd', name: 'odd-1', labels: { arch: 'sparc' }, info: info('linux', 'x64', 'debian', 'Debian') },
    { id: 'e', name: 'ssh-host', labels: {} },
  ];
  const pick = (exprs: string[]) => select(parseSelector(exprs), fleet).map((a) => a.name);

  it('a key=value term matches the fact when there is no such label', () => {
    expect(pick(['platform=linux'])).to.deep.equal(['deb-1', 'arm-1', 'odd-1']);
    expect(pick(['arch=arm64'])).to.deep.equal(['arm-1', 'mac-1']);
    expect(pick(['distro=debian'])).to.deep.equal(['deb-1', 'odd-1']);
    expect(pick(['hostname=h-arm64'])).to.deep.equal(['arm-1', 'mac-1']);
    expect(pick(['version=0.2.*', 'platform=darwin'])).to.deep.equal(['mac-1']);
  });

  it('a label of the same name wins over the fact', () => {
    expect(pick(['arch=sparc'])).to.deep.equal(['odd-1']);
    expect(pick(['arch=x64'])).to.deep.equal(['deb-1']);
  });

  it('fact values are globs matched ignoring case; labels are matched exactly', () => {
    expect(pick(['os=*Bookworm*'])).to.deep.equal(['deb-1']);
    expect(pick(['os=ubuntu*'])).to.deep.equal(['arm-1']);
    expect(pick(['!platform=linux'])).to.deep.equal(['mac-1', 'ssh-host']);
    expect(pick(['arch=SPARC'])).to.deep.equal([]);
  });

  it('only the listed facts: other agent_info fields are not selectable', () => {
    expect(pick(['release=6.1'])).to.deep.equal([]);
    expect(pick(['distro=nosuch'])).to.deep.equal([]);
  });

  it('name globs take character classes', () => {
    expect(names(['web-[1-2]'])).to.deep.equal(['web-1', 'web-2']);
    expect(names(['web-[!1-2]'])).to.deep.equal(['web-3']);
  });
});

import { expect } from 'chai';
import { hostLibc, libcFromLdd, libcFromReport, libcProblem } from '../../../src/lib/libc.js';

describe('libc: where the single executable runs (glibc 2.28+)', () => {
  it("reads glibc from Node's report header; nothing from a musl or non-Linux Node", () => {
    expect(libcFromReport({ glibcVersionRuntime: '2.36' })).to.deep.equal({ kind: 'glibc', version: '2.36' });
    expect(libcFromReport({})).to.equal(undefined);
    expect(libcFromReport(undefined)).to.equal(undefined);
    expect(libcFromReport({ glibcVersionRuntime: 'weird' })).to.equal(undefined);
  });

  it('reads `ldd --version` of glibc distributions and of musl', () => {
    const samples: Array<[string, unknown]> = [
      ['ldd (GNU libc) 2.28\nCopyright (C) 2018 Free Software Foundation, Inc.\n', { kind: 'glibc', version: '2.28' }],
      ['ldd (Ubuntu GLIBC 2.35-0ubuntu3.8) 2.35\nCopyright (C) 2022\n', { kind: 'glibc', version: '2.35' }],
      ['ldd (Debian GLIBC 2.36-9+deb12u14) 2.36\n', { kind: 'glibc', version: '2.36' }],
      ['ldd (GNU libc) 2.17\n', { kind: 'glibc', version: '2.17' }], // CentOS 7
      ['ldd (GNU libc) 2.26\n', { kind: 'glibc', version: '2.26' }], // Amazon Linux 2
      ['\nmusl libc (x86_64)\nVersion 1.2.4\nDynamic Program Loader\n', { kind: 'musl' }],
      ['', { kind: 'unknown' }],
      ['ldd: unrecognized option', { kind: 'unknown' }],
    ];
    for (const [output, libc] of samples) expect(libcFromLdd(output), output).to.deep.equal(libc);
  });

  it('refuses glibc below 2.28 and musl, naming what it found; takes 2.28 and later, and an unknown C library', () => {
    expect(libcProblem({ kind: 'glibc', version: '2.17' })).to.equal(
      'this host has glibc 2.17, and ogent needs glibc 2.28 or later',
    );
    expect(libcProblem({ kind: 'glibc', version: '2.27' })).to.match(/glibc 2\.27/);
    expect(libcProblem({ kind: 'glibc', version: '1.99' })).to.match(/glibc 1\.99/);
    expect(libcProblem({ kind: 'musl' })).to.equal(
      "this host's C library is musl (Alpine?), and ogent needs glibc 2.28 or later",
    );
    for (const version of ['2.28', '2.31', '2.100', '3.0']) {
      expect(libcProblem({ kind: 'glibc', version }), version).to.equal(undefined);
    }
    expect(libcProblem({ kind: 'unknown' })).to.equal(undefined);
  });

  it('finds this host glibc (the test machines run a glibc Linux)', async () => {
    const libc = await hostLibc();
    expect(libc.kind).to.equal('glibc');
    expect(libcProblem(libc)).to.equal(undefined);
  });
});

import { expect } from 'chai';
import { versionCheck, type DoctorReport } from '../../../src/client/doctor.js';
import { diagnose } from '../../../src/client/doctor-net.js';
import { doctorReport } from '../../../src/ui/doctor-report.js';

describe('doctor diagnoses', () => {
  const target = { host: 'ctl.example', port: 8600 };
  const of = (code: string) => diagnose(Object.assign(new Error(code), { code }), target);

  it('says what each network and TLS failure means, and what to try', () => {
    expect(of('ENOTFOUND')).to.include({ kind: 'network', message: 'the host name ctl.example does not resolve' });
    expect(of('ECONNREFUSED').message).to.equal('nothing listens on ctl.example:8600 (connection refused)');
    expect(of('ETIMEDOUT').advice).to.include('firewall');
    expect(of('ECONNRESET').advice).to.include('https://');
    expect(of('EPROTO')).to.include({ kind: 'tls', message: 'ctl.example:8600 does not speak TLS' });
    expect(of('DEPTH_ZERO_SELF_SIGNED_CERT').advice).to.include('--ca FILE');
    expect(of('SELF_SIGNED_CERT_IN_CHAIN').kind).to.equal('tls');
    expect(of('UNABLE_TO_GET_ISSUER_CERT_LOCALLY').advice).to.include('full chain');
    expect(of('CERT_HAS_EXPIRED').message).to.match(/expired/);
    expect(of('ERR_TLS_CERT_ALTNAME_INVALID').message).to.match(/not for ctl\.example$/);
    expect(of('HPE_INVALID_CONSTANT').kind).to.equal('http');
    expect(of('SOMETHING_ELSE').message).to.equal('cannot reach ctl.example:8600 (SOMETHING_ELSE)');
  });

  it("compares the controller's version with the client's by the controller's policy (one minor apart)", () => {
    expect(versionCheck('0.2.0', '0.2.0')).to.include({
      status: 'ok',
      message: 'controller and client are both 0.2.0',
    });
    expect(versionCheck('0.1.0', '0.2.0')).to.include({
      status: 'ok',
      message: 'the controller is 0.1.0, this client 0.2.0: close enough to work together',
    });
    expect(versionCheck('0.3.1', '0.2.0').status).to.equal('ok');
    expect(versionCheck('0.4.0', '0.2.0')).to.include({
      status: 'fail',
      code: 'version_unsupported',
      message:
        'this client runs ogent 0.2.0, which the controller (ogent 0.4.0) no longer accepts: upgrade the client to ogent 0.3 or later',
    });
    expect(versionCheck('0.2.0', '0.4.0').message).to.equal(
      'this client runs ogent 0.4.0, newer than the controller (ogent 0.2.0) accepts: upgrade the controller first, one minor release at a time',
    );
    expect(versionCheck(undefined, '0.2.0').status).to.equal('warn');
    expect(versionCheck('dev', '0.2.0')).to.include({ status: 'warn' });
  });

  it('finds the code in a fetch-style cause too', () => {
    const err = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    expect(diagnose(err, target).code).to.equal('ECONNREFUSED');
  });

  it('prints one line per check, what to try under problems, and a verdict', () => {
    const report: DoctorReport = {
      controller: 'http://ctl:8600',
      source: '`ogent login`',
      ok: false,
      exit: 3,
      checks: [
        { name: 'controller', status: 'ok', message: 'an ogent controller answers' },
        { name: 'clock', status: 'warn', message: 'off by 9 s', advice: 'use NTP' },
        { name: 'credentials', status: 'fail', message: 'not logged in', advice: 'run `ogent login`' },
      ],
    };
    expect(doctorReport(report)).to.equal(
      [
        'controller http://ctl:8600 (from `ogent login`)',
        '✔ controller   an ogent controller answers',
        '! clock        off by 9 s',
        '               try: use NTP',
        '✖ credentials  not logged in',
        '               try: run `ogent login`',
        '1 problem found',
        '',
      ].join('\n'),
    );
  });
});

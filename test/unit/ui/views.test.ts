import { expect } from 'chai';
import { jobDetails } from '../../../src/ui/views.js';
import { job, run } from './fixtures.js';

describe('jobDetails', () => {
  it("shows env values without the control characters that would drive the reader's terminal", () => {
    const text = jobDetails(job([run('web-1', 'succeeded')], { env: { MODE: 'a\u001b]0;pwned\u0007b\u009bc' } }));
    expect(text).to.include('env:      MODE=a?]0;pwned?b?c');
    // eslint-disable-next-line no-control-regex
    expect(text).not.to.match(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
  });

  it('says how much stdin the job got and whether it ended, never the bytes', () => {
    const ended = jobDetails(job([run('web-1', 'succeeded')], { stdin: { bytes: 1234, ended: true } }));
    expect(ended).to.match(/^stdin: {4}1234 bytes$/m);
    const open = jobDetails(job([run('web-1', 'running')], { stdin: { bytes: 5, ended: false } }));
    expect(open).to.match(/^stdin: {4}5 bytes \(not ended\)$/m);
    const cut = jobDetails(
      job([run('web-1', 'failed')], { stdin: { bytes: 5, ended: false, error: 'stdin upload interrupted' } }),
    );
    expect(cut).to.match(/^stdin: {4}5 bytes \(stdin upload interrupted\)$/m);
    expect(jobDetails(job([run('web-1', 'succeeded')]))).not.to.match(/^stdin:/m);
  });
});

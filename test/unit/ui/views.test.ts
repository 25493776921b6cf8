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
});

import { expect } from 'chai';
import { AppError } from '../../../src/controller/application/errors.js';
import { EXIT } from '../../../src/lib/errors.js';
import { apiError } from '../../../src/lib/http-client.js';
import { ERROR_CODES, statusOf, type ErrorCode } from '../../../src/protocol/error-codes.js';

describe('error codes: one table for the controller and the client', () => {
  const codes = Object.keys(ERROR_CODES) as ErrorCode[];

  it('gives an AppError the status of its code', () => {
    for (const code of codes) expect(new AppError(code, 'x').status, code).to.equal(ERROR_CODES[code].status);
  });

  it('gives the client the exit code of the table for each code at its status', () => {
    for (const code of codes) {
      const { status, exit } = ERROR_CODES[code];
      expect(apiError(status, { error: code, message: 'm' }, 'do it').exit, code).to.equal(EXIT[exit]);
    }
  });

  it('answers 500 for a code this release does not know', () => {
    expect(statusOf('no_such_code')).to.equal(500);
    expect(apiError(500, { error: 'no_such_code' }, 'do it').exit).to.equal(EXIT.runsFailed);
  });
});

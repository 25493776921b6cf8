import { expect } from 'chai';
import { cell, displayLine, fit, selectorText, shortDuration } from '../../../src/ui/text.js';

describe('ui text helpers', () => {
  it('displayLine drops escape sequences and control characters a command printed', () => {
    expect(displayLine('\u001B[31mred\u001B[0m plain')).to.equal('red plain');
    expect(displayLine('\u001B]0;title\u0007after')).to.equal('after');
    expect(displayLine('a\u0007b\u0000c\u0085d')).to.equal('abcd');
    expect(displayLine('10%\r50%\r100%')).to.equal('100%');
    expect(displayLine('a\tb')).to.equal('a  b');
  });

  it('fit and cell cut to a width with an ellipsis and pad', () => {
    expect(fit('web-server-1', 6)).to.equal('web-s…');
    expect(fit('web', 6)).to.equal('web');
    expect(fit('web', 0)).to.equal('');
    expect(cell('web', 6)).to.equal('web   ');
  });

  it('shortDuration fits six columns', () => {
    expect(shortDuration(1234)).to.equal('1.2s');
    expect(shortDuration(45_000)).to.equal('45s');
    expect(shortDuration(185_000)).to.equal('3m05s');
    expect(shortDuration(7_440_000)).to.equal('2h04m');
  });

  it('selectorText shows the selector as typed, quoted where a shell needs it', () => {
    expect(selectorText([])).to.equal('--all');
    expect(selectorText(['role=web', '!web-3'])).to.equal("-t role=web -t '!web-3'");
  });
});

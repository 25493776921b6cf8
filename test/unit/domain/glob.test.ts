import { expect } from 'chai';
import fc from 'fast-check';
import { compileGlob } from '../../../src/domain/glob.js';
import { LIMITS } from '../../../src/protocol/events.js';
import { parseSelector, select } from '../../../src/domain/selector.js';

/** A class `[…]` at the start of `pattern` (shell rules: `!`/`^` negates, `]` first is a member, `a-c` a range). */
function classAt(pattern: string): { member: (ch: string) => boolean; length: number } | undefined {
  const negate = pattern[1] === '!' || pattern[1] === '^';
  const from = negate ? 2 : 1;
  // A `]` right after `[` or `[!` is a member, so the class ends at the next one.
  const close = pattern.indexOf(']', from + 1);
  if (close < 0) return undefined;
  const body = pattern.slice(from, close);
  const member = (ch: string) => {
    const c = ch.charCodeAt(0);
    for (let i = 0; i < body.length; i++) {
      if (body[i + 1] === '-' && i + 2 < body.length) {
        if (c >= body.charCodeAt(i) && c <= body.charCodeAt(i + 2)) return true;
        i += 2;
      } else if (body.charCodeAt(i) === c) return true;
    }
    return false;
  };
  return { member: (ch) => member(ch) !== negate, length: close + 1 };
}

/** The definition, by recursion on the pattern: exponential, so only for small inputs. */
function reference(pattern: string, text: string): boolean {
  if (pattern === '') return text === '';
  const [c, rest] = [pattern[0], pattern.slice(1)];
  if (c === '*') return reference(rest, text) || (text !== '' && reference(pattern, text.slice(1)));
  const cls = c === '[' ? classAt(pattern) : undefined;
  if (cls) return text !== '' && cls.member(text[0] ?? '') && reference(pattern.slice(cls.length), text.slice(1));
  return text !== '' && (c === '?' || c === text[0]) && reference(rest, text.slice(1));
}

/** Small alphabets, so stars, question marks, classes and literals meet often. */
const patternOf = fc.string({ unit: fc.constantFrom('*', '?', 'a', 'b', 'c', '.', '[', ']', '!', '-'), maxLength: 10 });
const textOf = fc.string({ unit: fc.constantFrom('a', 'b', 'c', '.', '[', ']', '*', '?', '-', '!'), maxLength: 10 });

/** A part as written in the pattern: a `[` would start a class, so it becomes a class of itself. */
const literal = (part: string) => (part === '*' || part === '?' ? part : part.replace(/\[/g, '[[]'));

describe('globs', () => {
  it('match as the reference definition does (fast-check, 20,000 pairs)', () => {
    fc.assert(
      fc.property(patternOf, textOf, (pattern, text) => {
        expect(compileGlob(pattern).matches(text), `${pattern} ~ ${text}`).to.equal(reference(pattern, text));
      }),
      { numRuns: 20_000 },
    );
  });

  it('match a text made of the pattern with its wildcards filled in (fast-check)', () => {
    const filled = fc
      .array(fc.oneof(fc.constant('*'), fc.constant('?'), fc.string({ minLength: 1, maxLength: 3 })), {
        maxLength: 8,
      })
      .chain((parts) =>
        fc
          .tuple(
            ...parts.map((p) =>
              p === '*'
                ? fc.string({ maxLength: 4 })
                : p === '?'
                  ? fc.string({ minLength: 1, maxLength: 1 })
                  : fc.constant(p),
            ),
          )
          .map((fills) => ({ pattern: parts.map(literal).join(''), text: fills.join('') })),
      );
    fc.assert(
      fc.property(filled, ({ pattern, text }) => {
        expect(compileGlob(pattern).matches(text), `${pattern} ~ ${text}`).to.equal(true);
      }),
      { numRuns: 5_000 },
    );
  });

  it('take character classes, negated classes and ranges; an unclosed bracket is a literal', () => {
    const web = (p: string) => ['web-1', 'web-4', 'web-5', 'web-x'].filter((n) => compileGlob(p).matches(n));
    expect(web('web-[1-4]')).to.deep.equal(['web-1', 'web-4']);
    expect(web('web-[!1-4]')).to.deep.equal(['web-5', 'web-x']);
    expect(web('web-[^x]')).to.deep.equal(['web-1', 'web-4', 'web-5']);
    expect(web('web-[15]')).to.deep.equal(['web-1', 'web-5']);
    expect(compileGlob('[]a]').matches(']')).to.equal(true);
    expect(compileGlob('web[1').matches('web[1')).to.equal(true);
    expect(compileGlob('web[1]').matches('web[1]')).to.equal(false);
    expect(compileGlob('web[1]').matches('web1')).to.equal(true);
    expect(compileGlob('a.b').matches('axb')).to.equal(false);
    expect(compileGlob('').matches('')).to.equal(true);
    expect(compileGlob('**').matches('')).to.equal(true);
  });

  it('answer the worst 1,024-character selector in milliseconds, not in exponential time', () => {
    const hostile = `${'*?'.repeat(LIMITS.selectorChars / 2 - 1)}*Z`;
    const stars = `${'*a'.repeat(LIMITS.selectorChars / 2 - 1)}*b`;
    const label = `role=${'*a'.repeat(LIMITS.selectorChars / 2 - 4)}*b`;
    for (const s of [hostile, stars, label])
      expect(s.length).to.be.within(LIMITS.selectorChars - 10, LIMITS.selectorChars);
    const agents = Array.from({ length: 100 }, (_, i) => ({
      id: `id-${i}`,
      name: `${'a'.repeat(LIMITS.nameChars - 3)}-${i}`.slice(0, LIMITS.nameChars),
      labels: { role: 'a'.repeat(LIMITS.labelValueChars) },
    }));
    const started = performance.now();
    expect(select(parseSelector([hostile]), agents)).to.deep.equal([]);
    expect(select(parseSelector([stars]), agents)).to.deep.equal([]);
    expect(select(parseSelector([label]), agents)).to.deep.equal([]);
    expect(select(parseSelector(['*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*?']), agents)).to.have.length(100);
    // Generous: a RegExp took 18 s for the first 29 characters of `hostile` against one name.
    expect(performance.now() - started).to.be.below(500);
  });
});

import { expect } from 'chai';
import fc from 'fast-check';
import { compileGlob } from '../../../src/domain/glob.js';
import { LIMITS } from '../../../src/protocol/events.js';
import { parseSelector, select } from '../../../src/domain/selector.js';

/** The definition, by recursion on the pattern: exponential, so only for small inputs. */
function reference(pattern: string, text: string): boolean {
  if (pattern === '') return text === '';
  const [c, rest] = [pattern[0], pattern.slice(1)];
  if (c === '*') return reference(rest, text) || (text !== '' && reference(pattern, text.slice(1)));
  return text !== '' && (c === '?' || c === text[0]) && reference(rest, text.slice(1));
}

/** Small alphabets, so stars, question marks and literals meet often. */
const patternOf = fc.string({ unit: fc.constantFrom('*', '?', 'a', 'b', '.', '['), maxLength: 10 });
const textOf = fc.string({ unit: fc.constantFrom('a', 'b', '.', '[', '*', '?', '😀'), maxLength: 10 });

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
          .map((fills) => ({ pattern: parts.join(''), text: fills.join('') })),
      );
    fc.assert(
      fc.property(filled, ({ pattern, text }) => {
        expect(compileGlob(pattern).matches(text), `${pattern} ~ ${text}`).to.equal(true);
      }),
      { numRuns: 5_000 },
    );
  });

  it('take every other character literally, brackets included', () => {
    expect(compileGlob('web[1]').matches('web[1]')).to.equal(true);
    expect(compileGlob('web[1]').matches('web1')).to.equal(false);
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

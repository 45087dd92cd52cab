import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { queryText } from '../../tests/helpers/query-text.ts';
import { editDistance, maxQueryTerms, parseQuery, TooManyQueryTermsError } from './query-parser.ts';

const words = (...list: string[]) => list.map((word) => ({ word, prefix: false }));

describe('parseQuery', () => {
  it('reads plain words as optional, lowercased, de-duplicated, stopwords dropped', () => {
    expect(parseQuery('What is THE wing of the Wing')).toEqual({
      optional: words('what', 'wing'),
      required: [],
      excluded: [],
    });
  });

  it('keeps stopwords when they are all there is', () => {
    expect(parseQuery('to be or not to be').optional).toEqual(words('to', 'be', 'or', 'not'));
  });

  it('reads phrases, prefixes, required and excluded clauses', () => {
    expect(parseQuery('"swept back" deploy* +flutter -draft -"old plan" ab*')).toEqual({
      optional: [{ word: 'deploy', prefix: true }, ...words('ab')],
      required: [{ terms: words('swept', 'back') }, { terms: words('flutter') }],
      excluded: [{ terms: words('draft') }, { terms: words('old', 'plan') }],
    });
  });

  it('takes modifiers only at the start of a word, and ignores an unclosed quote', () => {
    expect(parseQuery('aero-elastic x+y "open')).toEqual({
      optional: words('aero', 'elastic', 'x', 'y', 'open'),
      required: [],
      excluded: [],
    });
  });

  it('passes no backend syntax through', () => {
    expect(parseQuery('title:wing NEAR(a b, 0) x^2 c~1 (d OR e)').optional).toEqual(
      words('title', 'wing', 'near', 'b', '0', 'x', '2', 'c', '1', 'd', 'e'),
    );
  });

  it(`refuses more than ${maxQueryTerms} distinct terms, counting every clause`, () => {
    const many = Array.from({ length: maxQueryTerms }, (_, i) => `w${i}`);
    expect(() => parseQuery(many.join(' '))).not.toThrow();
    expect(() => parseQuery(`${many.join(' ')} -extra`)).toThrow(TooManyQueryTermsError);
  });

  it('never throws anything but the term bound, and gives backends only letters and digits', () => {
    const text = queryText();
    fc.assert(
      fc.property(text, (input) => {
        try {
          const query = parseQuery(input);
          const terms = [
            ...query.optional,
            ...[...query.required, ...query.excluded].flatMap((c) => c.terms),
          ];
          for (const term of terms) expect(term.word).toMatch(/^[\p{L}\p{N}]+$/u);
        } catch (error) {
          expect(error).toBeInstanceOf(TooManyQueryTermsError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('editDistance', () => {
  it('counts insertions, deletions, substitutions and neighbour swaps as one edit each', () => {
    expect(editDistance('wing', 'wing', 2)).toBe(0);
    expect(editDistance('wign', 'wing', 2)).toBe(1);
    expect(editDistance('wings', 'wing', 2)).toBe(1);
    expect(editDistance('flotterz', 'flutter', 2)).toBe(2);
  });

  it('stops at the limit', () => {
    expect(editDistance('abcdef', 'uvwxyz', 1)).toBe(2);
    expect(editDistance('a', 'abcd', 2)).toBe(3);
  });
});

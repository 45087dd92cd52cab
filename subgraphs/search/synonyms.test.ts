import { describe, expect, it } from 'vitest';
import { maxQueryTerms, parseQuery } from './query-parser.ts';
import {
  InvalidSynonymsError,
  maxSynonymEntries,
  maxWordsPerEntry,
  synonymLookup,
  validateSynonyms,
  withSynonyms,
} from './synonyms.ts';

const refusal = (input: Parameters<typeof validateSynonyms>[0]) => {
  try {
    validateSynonyms(input);
  } catch (error) {
    if (error instanceof InvalidSynonymsError) return error.field;
    throw error;
  }
  return undefined;
};

const words = (count: number) => Array.from({ length: count }, (_, i) => `word${i}`);

describe('validateSynonyms', () => {
  it('lowercases words and drops repeats within a set', () => {
    expect(
      validateSynonyms({
        equivalents: [{ words: ['K8s', 'Kubernetes', 'k8s'] }],
        rules: [{ word: ' Laptop ', synonyms: ['Notebook'] }],
      }),
    ).toEqual({
      equivalents: [{ words: ['k8s', 'kubernetes'] }],
      rules: [{ word: 'laptop', synonyms: ['notebook'] }],
    });
  });

  it('names the field of each bound it refuses', () => {
    const none = { equivalents: [], rules: [] };
    const set = (list: string[]) => ({ ...none, equivalents: [{ words: list }] });
    expect(refusal(set(['alone']))).toBe('equivalents[0].words');
    expect(refusal(set(words(maxWordsPerEntry + 1)))).toBe('equivalents[0].words');
    expect(refusal(set(words(maxWordsPerEntry)))).toBeUndefined();
    expect(refusal(set(['new', 'new york']))).toBe('equivalents[0].words[1]');
    expect(refusal(set(['ok', 'x'.repeat(51)]))).toBe('equivalents[0].words[1]');
    expect(refusal({ ...none, equivalents: Array(maxSynonymEntries + 1).fill({ words: ['a', 'b'] }) })).toBe(
      'equivalents',
    );
    const rule = (word: string, synonyms: string[]) => ({ ...none, rules: [{ word, synonyms }] });
    expect(refusal(rule('laptop', []))).toBe('rules[0].synonyms');
    expect(refusal(rule('laptop', words(maxWordsPerEntry)))).toBe('rules[0].synonyms');
    expect(refusal(rule('lap-top', ['notebook']))).toBe('rules[0].word');
    expect(
      refusal({ ...none, rules: Array(maxSynonymEntries + 1).fill({ word: 'a', synonyms: ['b'] }) }),
    ).toBe('rules');
  });
});

describe('synonymLookup', () => {
  it('maps every word of a set to the others, a rule one way, by stem, never to itself', () => {
    expect(
      synonymLookup({
        equivalents: [{ words: ['k8s', 'kubernetes'] }, { words: ['laptop', 'laptops'] }],
        rules: [
          { word: 'laptop', synonyms: ['notebook'] },
          { word: 'Café', synonyms: ['coffee'] },
        ],
      }),
    ).toEqual({ k8: ['kubernetes'], kubernet: ['k8s'], laptop: ['notebook'], cafe: ['coffee'] });
  });
});

describe('withSynonyms', () => {
  it('adds synonyms to plain words only, skipping words the query already has', () => {
    const query = withSynonyms(parseQuery('laptop notebook lapto* +dock'), {
      laptop: ['notebook', 'ultrabook'],
      notebook: ['laptop'],
      lapto: ['never'],
    });
    expect(query.optional).toEqual([
      { word: 'laptop', prefix: false, synonyms: ['ultrabook'] },
      { word: 'notebook', prefix: false },
      { word: 'lapto', prefix: true },
    ]);
  });

  it(`shares what is left of the ${maxQueryTerms}-term bound one synonym per word in turn`, () => {
    const filler = words(maxQueryTerms - 5);
    const query = withSynonyms(parseQuery(['alpha', 'beta', ...filler].join(' ')), {
      alpha: ['a1', 'a2', 'a3', 'a4'],
      beta: ['b1'],
    });
    expect(query.optional.slice(0, 2)).toEqual([
      { word: 'alpha', prefix: false, synonyms: ['a1', 'a2'] },
      { word: 'beta', prefix: false, synonyms: ['b1'] },
    ]);
  });
});

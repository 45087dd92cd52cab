import { stemmer } from 'stemmer';
import { distinctTerms, maxQueryTerms, type ParsedQuery, type QueryTerm } from './query-parser.ts';

/**
 * A tenant's synonyms. Both kinds apply to plain query words at search time,
 * so changing them needs no reindex. A synonym ranks below the word as typed.
 */
export interface Synonyms {
  /** Sets of equivalent words: a search for any one also finds the others (`k8s`, `kubernetes`). */
  equivalents: { words: string[] }[];
  /** One-way rules: a search for `word` also finds its synonyms, not the other way round (`laptop` → `notebook`). */
  rules: { word: string; synonyms: string[] }[];
}

/** Words each synonym key expands to, keyed by `synonymKey`. Derived once on write, read per search. */
export type SynonymLookup = Record<string, string[]>;

/** The synonyms port: adapters keep them with the tenant's index data and erase them with it. */
export interface SynonymStore {
  /** The tenant's synonyms as last set; none when never set. */
  synonyms(tenantId: string): Promise<Synonyms>;
  /** Replaces all of the tenant's synonyms with already validated ones; searches after it resolves use them. */
  replaceSynonyms(tenantId: string, synonyms: Synonyms): Promise<void>;
}

/** Equivalent sets per tenant, and one-way rules per tenant, each at most this many. */
export const maxSynonymEntries = 500;
/** Words in one equivalent set, or in one rule counting its word. */
export const maxWordsPerEntry = 20;
export const maxSynonymWordLength = 50;

export const noSynonyms: Synonyms = { equivalents: [], rules: [] };

export class InvalidSynonymsError extends Error {
  readonly field: string;
  readonly reason: string;
  constructor(field: string, reason: string) {
    super(`${field}: ${reason}`);
    this.field = field;
    this.reason = reason;
  }
}

const wordPattern = /^[\p{L}\p{N}]+$/u;

/**
 * The form a query word and a synonym are compared in: without diacritics and
 * stemmed, as the index stores words, so `Laptops` triggers a `laptop` rule.
 */
export const synonymKey = (word: string) =>
  stemmer(word.toLowerCase().normalize('NFD').replace(/\p{M}/gu, ''));

function checkWord(word: string, field: string): string {
  const lower = word.trim().toLowerCase();
  if (!wordPattern.test(lower)) invalid(field, 'must be one word of letters and digits');
  if (lower.length > maxSynonymWordLength)
    invalid(field, `must be at most ${maxSynonymWordLength} characters`);
  return lower;
}

function invalid(field: string, message: string): never {
  throw new InvalidSynonymsError(field, message);
}

function checkWords(words: readonly string[], field: string, least: number, most: number): string[] {
  if (words.length < least) invalid(field, `needs at least ${least} word${least === 1 ? '' : 's'}`);
  if (words.length > most) invalid(field, `has ${words.length} words; at most ${most} are allowed`);
  return [...new Set(words.map((word, i) => checkWord(word, `${field}[${i}]`)))];
}

/** Checks synonyms against the bounds and normalises their words (lowercase, no duplicates in a set). */
export function validateSynonyms(input: Synonyms): Synonyms {
  for (const [field, list] of [
    ['equivalents', input.equivalents],
    ['rules', input.rules],
  ] as const) {
    if (list.length > maxSynonymEntries)
      invalid(field, `has ${list.length} entries; at most ${maxSynonymEntries} are allowed`);
  }
  return {
    equivalents: input.equivalents.map((set, i) => ({
      words: checkWords(set.words, `equivalents[${i}].words`, 2, maxWordsPerEntry),
    })),
    rules: input.rules.map((rule, i) => ({
      word: checkWord(rule.word, `rules[${i}].word`),
      synonyms: checkWords(rule.synonyms, `rules[${i}].synonyms`, 1, maxWordsPerEntry - 1),
    })),
  };
}

/** Every key's synonyms, in the order they were defined, never the key's own word. */
export function synonymLookup(synonyms: Synonyms): SynonymLookup {
  const lookup = new Map<string, Set<string>>();
  const add = (word: string, others: readonly string[]) => {
    const key = synonymKey(word);
    const found = lookup.get(key) ?? new Set<string>();
    for (const other of others) if (synonymKey(other) !== key) found.add(other);
    if (found.size > 0) lookup.set(key, found);
  };
  for (const { words } of synonyms.equivalents) for (const word of words) add(word, words);
  for (const { word, synonyms: targets } of synonyms.rules) add(word, targets);
  return Object.fromEntries([...lookup].map(([key, words]) => [key, [...words]]));
}

const expandable = (term: QueryTerm) => !term.prefix;

/** The keys to look up for a query: its plain words. Phrases, prefixes, `+` and `-` clauses match as typed. */
export const synonymKeysOf = (query: ParsedQuery): string[] => [
  ...new Set(query.optional.filter(expandable).map((term) => synonymKey(term.word))),
];

/**
 * The query with each plain word's synonyms as `QueryTerm.synonyms`. The
 * expansion is capped so the query stays within `maxQueryTerms` distinct
 * terms: one synonym per word in turn, first defined first, until the budget
 * is spent, so one word with many synonyms cannot crowd out the others.
 */
export function withSynonyms(query: ParsedQuery, lookup: SynonymLookup): ParsedQuery {
  const terms = distinctTerms(query);
  const taken = new Set(terms.map((term) => term.word));
  let budget = maxQueryTerms - terms.length;
  // Own entries only: a lookup parsed from JSON still inherits `constructor` and the like.
  const synonymsOf = (key: string) => (Object.hasOwn(lookup, key) ? (lookup[key] ?? []) : []);
  const candidates = query.optional.map((term) =>
    expandable(term) ? synonymsOf(synonymKey(term.word)) : [],
  );
  const chosen = query.optional.map((): string[] => []);
  const rounds = Math.max(0, ...candidates.map((words) => words.length));
  for (let round = 0; round < rounds && budget > 0; round += 1) {
    for (const [i, words] of candidates.entries()) {
      const word = words[round];
      if (word === undefined || budget === 0 || taken.has(word)) continue;
      taken.add(word);
      chosen[i]?.push(word);
      budget -= 1;
    }
  }
  return {
    ...query,
    optional: query.optional.map((term, i) => {
      const synonyms = chosen[i] ?? [];
      return synonyms.length > 0 ? { ...term, synonyms } : term;
    }),
  };
}

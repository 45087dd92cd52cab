import { stemmer } from 'stemmer';

/**
 * The search text as Quarry understands it, shared by every adapter so both
 * backends read a query the same way. Users type questions, so plain words
 * are optional: a document matching any of them is a candidate, ranked by
 * how many it matches and how well. The syntax is small and never fails:
 *
 * - `"exact phrase"`: the words, in order, must appear (an unclosed quote is ignored);
 * - `prefix*`: any word starting with it, for prefixes of at least 3 characters;
 * - `+word` / `+"phrase"`: must appear;
 * - `-word` / `-"phrase"`: must not appear.
 *
 * Anything else (`NEAR`, `title:`, `^`, `~`, parentheses, `AND`/`OR`) is
 * plain words or separators: only letters and digits reach a backend.
 */

/** One word of a query; `prefix` matches any word starting with it. */
export interface QueryTerm {
  word: string;
  prefix: boolean;
  /** Other words that also match it, ranked below the word itself: typo corrections an adapter found. */
  alternatives?: readonly string[];
  /** The tenant's synonyms of the word (synonyms.ts), also matching it and ranked below it. */
  synonyms?: readonly string[];
}

/** One term, or a phrase of several in order. Phrases never hold prefixes. */
export interface QueryClause {
  terms: readonly QueryTerm[];
}

export interface ParsedQuery {
  /** Plain words, stopwords removed: any one makes a candidate, more rank higher. */
  optional: readonly QueryTerm[];
  /** `+word` and `"phrase"` clauses: every one must match. */
  required: readonly QueryClause[];
  /** `-word` and `-"phrase"` clauses: none may match. */
  excluded: readonly QueryClause[];
}

/**
 * Every distinct term costs the backend a posting-list read and highlighting
 * a pass, so a query's work is bounded by this. Long natural-language
 * questions reach the high twenties after stopwords; above 32 is refused.
 */
export const maxQueryTerms = 32;
/** Shorter prefixes expand to too many words to be useful or cheap. */
export const minPrefixLength = 3;

/**
 * Lucene's English stop set, which Elasticsearch's `english` analyzer also
 * removes: words this common say nothing about a document, and on the
 * embedded index they would make nearly every document a candidate.
 */
const stopwords = new Set(
  'a an and are as at be but by for if in into is it no not of on or such that the their then there these they this to was will with'.split(
    ' ',
  ),
);

export class TooManyQueryTermsError extends Error {
  readonly isTooManyQueryTerms = true;
  readonly terms: number;
  constructor(terms: number) {
    super(`has ${terms} distinct terms; at most ${maxQueryTerms} are allowed`);
    this.terms = terms;
  }
}

type Modifier = '+' | '-' | '';

interface RawClause {
  modifier: Modifier;
  quoted: boolean;
  terms: QueryTerm[];
}

const wordPattern = /[\p{L}\p{N}]+/gu;
/** A modifier counts only at the start of a token, so `aero-elastic` stays two plain words. */
const tokenPattern = /(^|\s)([+-]?)"([^"]*)"|(^|[^\p{L}\p{N}])([+-]?)([\p{L}\p{N}]+)(\*?)/gu;

const termKey = (term: QueryTerm) => `${term.word}${term.prefix ? '*' : ''}`;

function scan(text: string): RawClause[] {
  const clauses: RawClause[] = [];
  const lower = text.toLowerCase();
  // An unclosed quote is not a phrase: drop it so the regex reads the rest as words.
  const quotes = lower.split('"').length - 1;
  const balanced =
    quotes % 2 === 0
      ? lower
      : lower.slice(0, lower.lastIndexOf('"')) + lower.slice(lower.lastIndexOf('"') + 1);
  for (const match of balanced.matchAll(tokenPattern)) {
    if (match[3] !== undefined) {
      const words = match[3].match(wordPattern) ?? [];
      if (words.length === 0) continue;
      clauses.push({
        modifier: (match[2] ?? '') as Modifier,
        quoted: true,
        terms: words.map((word) => ({ word, prefix: false })),
      });
    } else if (match[6] !== undefined) {
      const word = match[6];
      clauses.push({
        modifier: (match[5] ?? '') as Modifier,
        quoted: false,
        terms: [{ word, prefix: match[7] === '*' && word.length >= minPrefixLength }],
      });
    }
  }
  return clauses;
}

const asClause = (raw: RawClause): QueryClause => ({ terms: raw.terms });

export function parseQuery(text: string): ParsedQuery {
  const raw = scan(text);
  const seen = new Set<string>();
  const unique = <T>(key: string, value: T): T[] => {
    if (seen.has(key)) return [];
    seen.add(key);
    return [value];
  };
  const clauseKey = (clause: RawClause) => `${clause.modifier}${clause.terms.map(termKey).join(' ')}`;
  // Quoted text is required even without `+`: whoever quotes wants exactly that.
  const required = raw
    .filter((c) => c.modifier === '+' || (c.modifier === '' && c.quoted))
    .flatMap((c) => unique(`+${clauseKey({ ...c, modifier: '' })}`, asClause(c)));
  const excluded = raw.filter((c) => c.modifier === '-').flatMap((c) => unique(clauseKey(c), asClause(c)));
  const plain = raw
    .filter((c) => c.modifier === '' && !c.quoted)
    .flatMap((c) => c.terms)
    .filter((term) => !seen.has(`+${termKey(term)}`))
    .flatMap((term) => unique(termKey(term), term));
  const content = plain.filter((term) => term.prefix || !stopwords.has(term.word));
  // A query of stopwords only ("to be or not to be") still searches for them.
  const optional = content.length > 0 || required.length > 0 ? content : plain;
  const query = { optional, required, excluded };
  const distinct = distinctTerms(query).length;
  if (distinct > maxQueryTerms) throw new TooManyQueryTermsError(distinct);
  return query;
}

/** The query's distinct terms, which its cost bound counts. */
export function distinctTerms(query: ParsedQuery): QueryTerm[] {
  const terms = new Map<string, QueryTerm>();
  for (const term of [...query.optional, ...[...query.required, ...query.excluded].flatMap((c) => c.terms)])
    terms.set(termKey(term), term);
  return [...terms.values()];
}

/**
 * The prefix to send to a backend that stems query words as it stems the
 * index (FTS5's porter tokenizer, Elasticsearch's `english` analyzer): cut
 * to where stemming leaves it alone. "deploy" stems to "deploi", which no
 * stored stem of "deployment" starts with; "deplo" is stable and matches.
 */
export function stablePrefix(prefix: string): string {
  let stable = prefix;
  for (let stemmed = stemmer(stable); stemmed !== stable && stable.length > 1; stemmed = stemmer(stable)) {
    let common = 0;
    while (common < stable.length && stable[common] === stemmed[common]) common += 1;
    stable = stable.slice(0, Math.max(1, Math.min(common, stable.length - 1)));
  }
  return stable;
}

/**
 * Typo tolerance: how many edits a word of this length may be corrected by,
 * Meilisearch's defaults (one from 5 letters, two from 9), which is
 * Elasticsearch's `fuzziness: AUTO:5,9`. Shorter words have too many
 * neighbours to correct safely: with the looser `AUTO` (one from 3 letters,
 * two from 6) Cranfield's nDCG@10 dropped (docs/relevance.md).
 */
export const allowedEdits = (word: string) => (word.length < 5 ? 0 : word.length < 9 ? 1 : 2);
/** The same rule as Elasticsearch's `fuzziness`. */
export const fuzziness = 'AUTO:5,9';
/** Corrections kept per word, the most frequent first; each one is another term to match. */
export const maxCorrections = 3;

/**
 * Edit distance counting a swap of two neighbouring letters as one edit (as
 * Elasticsearch's fuzzy queries do), or `limit + 1` as soon as it must
 * exceed `limit`, so a far word costs little.
 */
export function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let beforePrevious: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        value = Math.min(value, (beforePrevious[j - 2] ?? 0) + 1);
      }
      current.push(value);
      rowMin = Math.min(rowMin, value);
    }
    if (rowMin > limit) return limit + 1;
    beforePrevious = previous;
    previous = current;
  }
  return previous[b.length] ?? limit + 1;
}

/** Whether the query narrows by text at all, which is when there is relevance to rank by. */
export const isRanked = (query: ParsedQuery) => query.optional.length > 0 || query.required.length > 0;

/** Every distinct word to highlight: the optional and required terms and their synonyms, never the excluded ones. */
export function highlightTerms(query: ParsedQuery): QueryTerm[] {
  const terms = new Map<string, QueryTerm>();
  for (const term of [...query.optional, ...query.required.flatMap((clause) => clause.terms)]) {
    terms.set(termKey(term), term);
    for (const word of term.synonyms ?? []) terms.set(word, { word, prefix: false });
  }
  return [...terms.values()];
}

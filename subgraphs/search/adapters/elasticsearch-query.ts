import type { estypes } from '@elastic/elasticsearch';
import {
  type CorrectionCandidate,
  closestFirst,
  correctableWords,
  correctionDistance,
  spelledAs,
} from '../did-you-mean.ts';
import { highlightWindowChars, markClose, markedToHtml, markOpen, tokensOf } from '../highlighting.ts';
import {
  fuzziness,
  isRanked,
  maxCorrections,
  type ParsedQuery,
  parseQuery,
  type QueryClause,
  stablePrefix,
} from '../query-parser.ts';
import {
  type FacetField,
  facetBucketLimit,
  type Highlight,
  type SearchPage,
  type SearchRequest,
  type SortKey,
  totalLimit,
} from '../search-index.ts';
import { type SynonymLookup, withSynonyms } from '../synonyms.ts';

/*
 * Elasticsearch request bodies built from the search port's requests (search, suggest, didYouMean's
 * counts, tombstone pruning), and the pages read back from their answers. No I/O here.
 */

const facetFields: Record<FacetField, string> = { TAGS: 'tags', STATUS: 'status', AUTHOR: 'author' };

/** Title above tags above body, the same weights as the embedded bm25. */
const searchFields = ['title^4', 'tags.text^2', 'body'];

function highlightsOf(highlight: Record<string, string[]> | undefined): Highlight[] {
  const highlights: Highlight[] = [];
  for (const field of ['title', 'body']) {
    const fragments = highlight?.[field];
    if (fragments && fragments.length > 0) {
      highlights.push({
        field,
        snippets: fragments.map((fragment) => markedToHtml(fragment)),
      });
    }
  }
  return highlights;
}

/** The filter every query of a tenant starts from: filter context, so it is cached and never scored. */
function tenantFilter(tenantId: string): estypes.QueryDslQueryContainer[] {
  return [{ term: { tenant_id: tenantId } }, { term: { deleted: false } }];
}

/** How much a fuzzy match of the words counts beside the exact one. */
const fuzzyBoost = 0.5;
/** How much a synonym counts beside the word as typed: the embedded index counts the word twice. */
const synonymBoost = 0.5;

/** One required or excluded clause: a word, a prefix or a phrase, in any of the searched fields. */
function clauseQuery({ terms }: QueryClause): estypes.QueryDslQueryContainer {
  const [only] = terms;
  if (terms.length === 1 && only && !only.prefix) {
    return { multi_match: { query: only.word, type: 'cross_fields', fields: searchFields } };
  }
  const text = only?.prefix ? stablePrefix(only.word) : terms.map((term) => term.word).join(' ');
  return {
    multi_match: { query: text, type: only?.prefix ? 'phrase_prefix' : 'phrase', fields: searchFields },
  };
}

/**
 * The parsed query as a bool query with the embedded index's semantics.
 * Optional words are one cross_fields multi_match (the fields scored as one,
 * like FTS5's bm25 over the row) without `operator: and`, and
 * `minimum_should_match: 1`: any one word makes a candidate, and BM25 sums
 * over the words a document has. Stopwords were removed by the parser, and
 * the `english` analyzer drops the same set. With required clauses the
 * optional words only add score.
 */
function textQuery(query: ParsedQuery, typoTolerance: boolean): estypes.QueryDslBoolQuery {
  const words = query.optional.filter((term) => !term.prefix).map((term) => term.word);
  const synonyms = query.optional.flatMap((term) => term.synonyms ?? []);
  const should: estypes.QueryDslQueryContainer[] = [
    ...(words.length > 0
      ? [
          {
            multi_match: {
              query: words.join(' '),
              type: 'cross_fields' as const,
              fields: searchFields,
              minimum_should_match: '1',
            },
          },
        ]
      : []),
    // Typo tolerance: the same words again, fuzzy, each at most `maxCorrections` corrections, at a lower
    // weight, so a document with the word as typed ranks above one with a correction of it.
    ...(typoTolerance && words.length > 0
      ? [
          {
            multi_match: {
              query: words.join(' '),
              type: 'best_fields' as const,
              fields: searchFields,
              fuzziness,
              prefix_length: 1,
              max_expansions: maxCorrections,
              boost: fuzzyBoost,
            },
          },
        ]
      : []),
    // The tenant's synonyms of the words, exact, at a lower weight than the words as typed.
    ...(synonyms.length > 0
      ? [
          {
            multi_match: {
              query: synonyms.join(' '),
              type: 'cross_fields' as const,
              fields: searchFields,
              boost: synonymBoost,
            },
          },
        ]
      : []),
    ...query.optional.filter((term) => term.prefix).map((term) => clauseQuery({ terms: [term] })),
  ];
  return {
    must: query.required.map(clauseQuery),
    should,
    minimum_should_match: query.required.length > 0 ? 0 : 1,
  };
}

/** The tenant's filter and the request's filters (tags, status, author, update time). */
function filtersOf(request: SearchRequest): estypes.QueryDslQueryContainer[] {
  const filter = tenantFilter(request.tenantId);
  const { tags, status, author, updatedAfter, updatedBefore } = request.filter;
  for (const tag of new Set(tags ?? [])) filter.push({ term: { tags: tag } });
  if (status && status.length > 0) filter.push({ terms: { status: [...status] } });
  if (author !== undefined) filter.push({ term: { author } });
  if (updatedAfter || updatedBefore) {
    filter.push({
      range: {
        updated_at: {
          ...(updatedAfter ? { gt: updatedAfter.toISOString() } : {}),
          ...(updatedBefore ? { lt: updatedBefore.toISOString() } : {}),
        },
      },
    });
  }
  return filter;
}

/** The page order, `doc_id` breaking ties. Empty text has no relevance to speak of, so RELEVANCE falls back to newest first. */
function sortOf(request: SearchRequest, ranked: boolean): estypes.SortCombinations[] {
  if (ranked && request.sort === 'RELEVANCE')
    return [{ _score: { order: 'desc' } }, { doc_id: { order: 'asc' } }];
  if (request.sort === 'UPDATED_ASC') return [{ updated_at: { order: 'asc' } }, { doc_id: { order: 'asc' } }];
  return [{ updated_at: { order: 'desc' } }, { doc_id: { order: 'desc' } }];
}

const highlighting: estypes.SearchHighlight = {
  pre_tags: [markOpen],
  post_tags: [markClose],
  // The embedded index's bound: highlighting reads only the start of each field.
  max_analyzed_offset: highlightWindowChars,
  fields: {
    title: { number_of_fragments: 0 },
    body: { fragment_size: 160, number_of_fragments: 1, no_match_size: 0 },
  },
};

/** One terms aggregation per facet asked for, most documents first. */
function facetAggregations(
  facets: readonly FacetField[],
): Record<string, estypes.AggregationsAggregationContainer> {
  return Object.fromEntries(
    facets.map((field) => [
      field,
      {
        terms: {
          field: facetFields[field],
          size: facetBucketLimit,
          order: [{ _count: 'desc' as const }, { _key: 'asc' as const }],
        },
      },
    ]),
  );
}

export function buildSearchBody(
  request: SearchRequest,
  readAlias: string,
  synonyms: SynonymLookup = {},
): estypes.SearchRequest {
  const query = withSynonyms(parseQuery(request.text), synonyms);
  const ranked = isRanked(query);
  const must: estypes.QueryDslQueryContainer[] = ranked
    ? [{ bool: textQuery(query, request.typoTolerance !== false) }]
    : [];
  const mustNot = query.excluded.map(clauseQuery);
  const facets = [...new Set(request.facets)];
  const correctable = request.didYouMean && request.typoTolerance !== false ? correctableWords(query) : [];
  return {
    index: readAlias,
    routing: request.tenantId,
    // One more than the page tells whether another page exists without a second count.
    size: Math.max(0, request.first) + 1,
    track_total_hits: totalLimit,
    track_scores: ranked,
    _source: ['doc_id'],
    query: {
      bool: { filter: filtersOf(request), must, ...(mustNot.length > 0 ? { must_not: mustNot } : {}) },
    },
    sort: sortOf(request, ranked),
    ...(request.after ? { search_after: [...request.after] } : {}),
    ...(ranked && request.highlights ? { highlight: highlighting } : {}),
    ...(facets.length > 0 ? { aggs: facetAggregations(facets) } : {}),
    ...(correctable.length > 0 ? { suggest: correctionSuggester(correctable) } : {}),
  };
}

/** Tombstones of deletes committed before `before` (an ISO time). */
export function buildTombstoneQuery(before: string): estypes.QueryDslQueryContainer {
  return {
    bool: {
      filter: [
        { term: { deleted: true } },
        {
          bool: {
            should: [
              { range: { deleted_at: { lt: before } } },
              {
                bool: {
                  must_not: [{ exists: { field: 'deleted_at' } }],
                  filter: [{ range: { indexed_at: { lt: before } } }],
                },
              },
            ],
            minimum_should_match: 1,
          },
        },
      ],
    },
  };
}

/** The analysed fields a correction may come from, as on the embedded index (its vocabulary covers all three). */
const correctionFields = ['title', 'body', 'tags.text'];
/** Candidates per word and field; the tenant's own documents then decide which are corrections. */
const candidatesPerField = 5;
const suggesterName = (field: string) => `did_you_mean_${field.replace('.', '_')}`;

/**
 * Candidate corrections for `didYouMean`: a term suggester per field over the
 * correctable words, in the search request itself. Its candidates are the
 * shard's words, which other tenants share, so none is used before
 * `buildCorrectionCountBody` has counted it in this tenant's documents.
 */
function correctionSuggester(words: readonly string[]): estypes.SearchSuggester {
  return {
    text: words.join(' '),
    ...Object.fromEntries(
      correctionFields.map((field) => [
        suggesterName(field),
        {
          term: {
            field,
            // Every word: whether the word itself is in the tenant's documents is counted next, not guessed from the shard.
            suggest_mode: 'always' as const,
            max_edits: 2,
            prefix_length: 1,
            min_word_length: 1,
            size: candidatesPerField,
            sort: 'score' as const,
            string_distance: 'damerau_levenshtein' as const,
          },
        },
      ]),
    ),
  };
}

/** Documents of the tenant holding a term in any correction field. */
const holding = (term: string): estypes.QueryDslQueryContainer => ({
  bool: { should: correctionFields.map((field) => ({ term: { [field]: term } })), minimum_should_match: 1 },
});

/** One request, no hits: how many of the tenant's documents hold each term (the words as typed and their candidates). */
export function buildCorrectionCountBody(
  tenantId: string,
  terms: readonly string[],
  readAlias: string,
): estypes.SearchRequest {
  return {
    index: readAlias,
    routing: tenantId,
    size: 0,
    track_total_hits: false,
    query: { bool: { filter: tenantFilter(tenantId) } },
    aggs: {
      did_you_mean: { filters: { filters: Object.fromEntries(terms.map((term) => [term, holding(term)])) } },
    },
  };
}

/** A correctable word, its analysed form, and the shard's candidates within its allowed edits. */
export interface WordCandidates {
  word: string;
  analysed: string;
  candidates: Map<string, number>;
}

type SuggestEntry = { text: string; offset: number; options: { text: string }[] | { text: string } };

export function candidatesOf(words: readonly string[], suggest: unknown): WordCandidates[] {
  const starts: number[] = [];
  let offset = 0;
  for (const word of words) {
    starts.push(offset);
    offset += word.length + 1;
  }
  const byWord = new Map<number, WordCandidates>();
  const entries = (suggest ?? {}) as Record<string, SuggestEntry[]>;
  for (const field of correctionFields) {
    for (const entry of entries[suggesterName(field)] ?? []) {
      const at = starts.indexOf(entry.offset);
      const word = words[at];
      if (word === undefined) continue;
      const found = byWord.get(at) ?? { word, analysed: entry.text, candidates: new Map() };
      for (const { text } of [entry.options].flat()) {
        const distance = correctionDistance(word, entry.text, text);
        if (distance !== undefined && distance > 0) found.candidates.set(text, distance);
      }
      byWord.set(at, found);
    }
  }
  return [...byWord.values()].filter((found) => found.candidates.size > 0);
}

export function buildSuggestBody(
  tenantId: string,
  prefix: string,
  first: number,
  readAlias: string,
): estypes.SearchRequest {
  return {
    index: readAlias,
    routing: tenantId,
    size: first,
    _source: ['title'],
    query: {
      bool: {
        filter: tenantFilter(tenantId),
        must: [
          {
            // Earlier words must match in full, the last one as a prefix.
            multi_match: {
              query: tokensOf(prefix).join(' '),
              type: 'bool_prefix',
              operator: 'and',
              fields: ['title_suggest', 'title_suggest._2gram', 'title_suggest._3gram'],
            },
          },
        ],
      },
    },
    // Two documents with one title are one suggestion.
    collapse: { field: 'title.raw' },
    sort: [{ _score: { order: 'desc' } }, { 'title.raw': { order: 'asc' } }],
  };
}

/** The search's answer as the port's page: `first` hits, the facets asked for, and whether more follow. */
export function pageOf(
  request: SearchRequest,
  response: estypes.SearchResponse<{ doc_id: string }>,
): SearchPage {
  const first = Math.max(0, request.first);
  const hits = response.hits.hits;
  const total =
    typeof response.hits.total === 'number' ? response.hits.total : (response.hits.total?.value ?? 0);
  const ranked = isRanked(parseQuery(request.text));
  const aggregations = (response.aggregations ?? {}) as Record<
    string,
    { buckets?: { key: string | number; doc_count: number }[] }
  >;
  return {
    total: Math.min(total, totalLimit),
    hits: hits.slice(0, first).map((hit) => ({
      documentId: hit._source?.doc_id ?? '',
      score: ranked ? (hit._score ?? 0) : 0,
      highlights: highlightsOf(hit.highlight),
      sortKey: (hit.sort ?? []) as SortKey,
    })),
    facets: [...new Set(request.facets)].map((field) => ({
      field,
      buckets: (aggregations[field]?.buckets ?? []).map((bucket) => ({
        value: String(bucket.key),
        count: bucket.doc_count,
      })),
    })),
    hasNextPage: hits.length > first,
    // Elasticsearch may answer with a new id for the same point in time; the latest is the one to use.
    ...(hits.length > first && response.pit_id ? { session: response.pit_id } : {}),
  };
}

/**
 * Each word none of the tenant's documents holds, replaced by its closest candidate that some do, as
 * the embedded index does with its own vocabulary. `counts` answers `buildCorrectionCountBody`.
 */
export function correctionsOf(
  found: readonly WordCandidates[],
  counts: estypes.SearchResponse,
): Map<string, string> {
  const buckets =
    (counts.aggregations?.did_you_mean as { buckets?: Record<string, { doc_count: number }> } | undefined)
      ?.buckets ?? {};
  const documents = (term: string) => buckets[term]?.doc_count ?? 0;
  const corrections = new Map<string, string>();
  for (const { word, analysed, candidates } of found) {
    if (documents(analysed) > 0) continue;
    const [best] = [...candidates]
      .map(([term, distance]): CorrectionCandidate => ({ term, distance, documents: documents(term) }))
      .filter((candidate) => candidate.documents > 0)
      .sort(closestFirst);
    if (best) corrections.set(word, spelledAs(word, best.term));
  }
  return corrections;
}

/** The words as typed and their candidates: what `buildCorrectionCountBody` counts. */
export const countedTerms = (found: readonly WordCandidates[]) => [
  ...new Set(found.flatMap(({ analysed, candidates }) => [analysed, ...candidates.keys()])),
];

import type { Client, estypes } from '@elastic/elasticsearch';
import type { DocumentChange, DocumentRecord, TombstonePruning } from '../../../server/documents/model.ts';
import type { ReadOptions } from '../../../server/read-options.ts';
import type { TenantErasure } from '../../../server/tenants/erasure.ts';
import {
  type CorrectionCandidate,
  closestFirst,
  correctableWords,
  correctionDistance,
  didYouMeanText,
  spelledAs,
} from '../did-you-mean.ts';
import {
  highlightWindowChars,
  markClose,
  markedToHtml,
  markOpen,
  stripMarkers,
  tokensOf,
} from '../highlighting.ts';
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
  type ApplyResult,
  type FacetField,
  facetBucketLimit,
  type Highlight,
  PagingSessionExpiredError,
  type RejectedChange,
  type SearchIndex,
  type SearchPage,
  type SearchRequest,
  type SortKey,
  totalLimit,
} from '../search-index.ts';
import {
  noSynonyms,
  type SynonymLookup,
  type SynonymStore,
  type Synonyms,
  synonymKeysOf,
  synonymLookup,
  withSynonyms,
} from '../synonyms.ts';
import {
  type AliasLayout,
  type ElasticsearchNames,
  ensureSynonymsIndex,
  readAliasLayout,
} from './elasticsearch-setup.ts';

export interface ElasticsearchSearchIndexOptions {
  /** Built by the caller with its request timeout and retry limit. */
  client: Client;
  names: ElasticsearchNames;
  /** How long a paging session's point in time stays open after each page (ELASTICSEARCH_PIT_KEEP_ALIVE_SECONDS). Default 300. */
  pointInTimeKeepAliveSeconds?: number;
}

/**
 * Every write waits for the next refresh (`refresh=wait_for`): `apply`
 * resolves only once its changes are searchable, as the port promises, so
 * the search generation bumped after it can never be read by a search that
 * still gets the old hits and caches them under it. It costs the indexer up
 * to one refresh interval per batch, not Elasticsearch a forced refresh.
 */
const refresh = 'wait_for';

/** The document as indexed. Deletes are tombstones (`deleted: true`) so their version is never forgotten. */
interface IndexedDocument {
  tenant_id: string;
  doc_id: string;
  deleted: boolean;
  indexed_at: string;
  /** When the delete committed, on a tombstone: the documents store's tombstone has the same time. */
  deleted_at?: string;
  title?: string;
  title_suggest?: string;
  body?: string;
  tags?: string[];
  status?: string;
  author?: string | null;
  created_at?: string;
  updated_at?: string;
}

/** One id per tenant and document: the same document id may exist in two tenants. */
export const indexedId = (tenantId: string, documentId: string) =>
  `${encodeURIComponent(tenantId)}/${documentId}`;

const facetFields: Record<FacetField, string> = { TAGS: 'tags', STATUS: 'status', AUTHOR: 'author' };

/** Title above tags above body, the same weights as the embedded bm25. */
const searchFields = ['title^4', 'tags.text^2', 'body'];

function toIndexed(change: DocumentChange, indexedAt: string): IndexedDocument {
  if (change.operation === 'delete') {
    return {
      tenant_id: change.tenantId,
      doc_id: change.documentId,
      deleted: true,
      indexed_at: indexedAt,
      deleted_at: change.committedAt.toISOString(),
    };
  }
  const document: DocumentRecord | null = change.document;
  if (!document) throw new Error(`Upsert of ${change.documentId} carries no document`);
  const title = stripMarkers(document.title);
  return {
    tenant_id: change.tenantId,
    doc_id: change.documentId,
    deleted: false,
    indexed_at: indexedAt,
    title,
    title_suggest: title,
    body: stripMarkers(document.body),
    tags: [...new Set(document.tags)],
    status: document.status,
    author: document.author,
    created_at: document.createdAt.toISOString(),
    updated_at: document.updatedAt.toISOString(),
  };
}

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

/** A tenant's document in the synonyms index, its id the tenant id. */
interface SynonymsDocument extends Synonyms {
  tenant_id: string;
  lookup: SynonymLookup;
}

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

export function buildSearchBody(
  request: SearchRequest,
  readAlias: string,
  synonyms: SynonymLookup = {},
): estypes.SearchRequest {
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
  const query = withSynonyms(parseQuery(request.text), synonyms);
  const ranked = isRanked(query);
  const must: estypes.QueryDslQueryContainer[] = ranked
    ? [{ bool: textQuery(query, request.typoTolerance !== false) }]
    : [];
  const mustNot = query.excluded.map(clauseQuery);
  // Empty text has no relevance to speak of, so RELEVANCE falls back to newest first.
  const sort: estypes.SortCombinations[] =
    ranked && request.sort === 'RELEVANCE'
      ? [{ _score: { order: 'desc' } }, { doc_id: { order: 'asc' } }]
      : request.sort === 'UPDATED_ASC'
        ? [{ updated_at: { order: 'asc' } }, { doc_id: { order: 'asc' } }]
        : [{ updated_at: { order: 'desc' } }, { doc_id: { order: 'desc' } }];
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
    query: { bool: { filter, must, ...(mustNot.length > 0 ? { must_not: mustNot } : {}) } },
    sort,
    ...(request.after ? { search_after: [...request.after] } : {}),
    ...(ranked && request.highlights
      ? {
          highlight: {
            pre_tags: [markOpen],
            post_tags: [markClose],
            // The embedded index's bound: highlighting reads only the start of each field.
            max_analyzed_offset: highlightWindowChars,
            fields: {
              title: { number_of_fragments: 0 },
              body: { fragment_size: 160, number_of_fragments: 1, no_match_size: 0 },
            },
          },
        }
      : {}),
    ...(facets.length > 0
      ? {
          aggs: Object.fromEntries(
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
          ),
        }
      : {}),
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
interface WordCandidates {
  word: string;
  analysed: string;
  candidates: Map<string, number>;
}

type SuggestEntry = { text: string; offset: number; options: { text: string }[] | { text: string } };

function candidatesOf(words: readonly string[], suggest: unknown): WordCandidates[] {
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

/**
 * A refusal of the document itself (a mapping or parsing error, an immense term): a retry gets the same
 * answer. Anything else (429, 5xx, a missing index, a forbidden write) is about the cluster, and may pass.
 */
const isPermanentStatus = (status: number) => status === 400;

interface StoredCopy {
  index: string;
  version: number;
  seqNo: number;
  primaryTerm: number;
}

type BulkOperation = estypes.BulkOperationContainer | IndexedDocument;

/** A point in time that expired or was closed: a 404 whose cause is the missing search context. */
function isSearchContextMissing(error: unknown): boolean {
  const meta = (
    error as {
      meta?: {
        statusCode?: number;
        body?: { error?: { type?: string; root_cause?: { type?: string }[] } };
      };
    }
  ).meta;
  const cause = meta?.body?.error;
  const missing = 'search_context_missing_exception';
  return (
    meta?.statusCode === 404 &&
    (cause?.type === missing || (cause?.root_cause ?? []).some((root) => root.type === missing))
  );
}

/**
 * The search port on Elasticsearch: one shared index family behind a read
 * and a write alias, every query filtered and routed by tenant.
 *
 * Why `apply` looks before it writes: external versioning only dedupes within
 * one index. After a rollover, the write alias points at a new backing index,
 * so an update would land there while the old version stayed in the old
 * index (a duplicate hit), and a replayed old version would land there as if
 * new. So each batch first reads, in real time, every copy of its documents
 * across the backing indices, drops changes that are not newer than the
 * newest copy (tombstones included), writes the rest to the write index with
 * external versioning, and deletes the older copies it saw, guarded by their
 * sequence numbers so a concurrent write is never removed.
 */
export class ElasticsearchSearchIndex implements SearchIndex, SynonymStore, TenantErasure, TombstonePruning {
  readonly #client: Client;
  readonly #names: ElasticsearchNames;
  readonly #keepAlive: string;

  constructor({ client, names, pointInTimeKeepAliveSeconds = 300 }: ElasticsearchSearchIndexOptions) {
    this.#client = client;
    this.#names = names;
    this.#keepAlive = `${pointInTimeKeepAliveSeconds}s`;
  }

  /**
   * Pages in a point in time: the first page opens one (routed to the
   * tenant's shards) and is read from it, and each later page continues with
   * `search_after` inside it, so writes meanwhile neither repeat nor skip
   * hits. The id travels in the page's `session`. A first page with no next
   * page closes its point in time at once; the others are left to expire,
   * since a cached first page hands the same one to several clients.
   * The client aborts the HTTP request on the signal, and Elasticsearch
   * cancels a search whose connection closed.
   */
  async search(request: SearchRequest, options?: ReadOptions): Promise<SearchPage> {
    const keys = synonymKeysOf(parseQuery(request.text));
    const synonyms = keys.length > 0 ? await this.#synonymLookup(request.tenantId, keys) : {};
    const body = buildSearchBody(request, this.#names.readAlias, synonyms);
    const response = await this.#pagedSearch(request, body, options?.signal);
    const didYouMean = body.suggest
      ? await this.#didYouMean(request, String(body.suggest.text).split(' '), response.suggest)
      : undefined;
    const page = this.#pageOf(request, response);
    return didYouMean === undefined ? page : { ...page, didYouMean };
  }

  /** The page's search: in the cursor's point in time, in a new one for a first page, or live for an old cursor. */
  async #pagedSearch(
    request: SearchRequest,
    body: estypes.SearchRequest,
    signal: AbortSignal | undefined,
  ): Promise<estypes.SearchResponse<{ doc_id: string }>> {
    if (request.after && request.session) return this.#searchIn(request.session, body, signal);
    // A cursor from a last page, or from before points in time: paged on the live index.
    if (request.after) return this.#client.search<{ doc_id: string }>(body, { signal });
    const opened = await this.#client.openPointInTime(
      { index: this.#names.readAlias, routing: request.tenantId, keep_alive: this.#keepAlive },
      { signal },
    );
    let response: estypes.SearchResponse<{ doc_id: string }>;
    try {
      response = await this.#searchIn(opened.id, body, signal);
    } catch (error) {
      this.#close(opened.id);
      throw error;
    }
    if (response.hits.hits.length <= Math.max(0, request.first)) this.#close(response.pit_id ?? opened.id);
    return response;
  }

  /** Closes a point in time nobody will page in; one that fails to close expires on its own. */
  #close(id: string) {
    this.#client.closePointInTime({ id }).catch(() => {});
  }

  /** One page inside a point in time, which this request keeps alive for another keep-alive. */
  async #searchIn(id: string, body: estypes.SearchRequest, signal: AbortSignal | undefined) {
    // The point in time names the indices and was opened with the tenant's routing; a search in it takes neither.
    const { index: _index, routing: _routing, ...inPointInTime } = body;
    try {
      const response = await this.#client.search<{ doc_id: string }>(
        { ...inPointInTime, pit: { id, keep_alive: this.#keepAlive } },
        { signal },
      );
      return { ...response, pit_id: response.pit_id ?? id };
    } catch (error) {
      if (isSearchContextMissing(error))
        throw new PagingSessionExpiredError('The point in time of this paging session has expired');
      throw error;
    }
  }

  #pageOf(request: SearchRequest, response: estypes.SearchResponse<{ doc_id: string }>): SearchPage {
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
   * Counts the words as typed and their candidates in the tenant's documents (one request, bounded by
   * the words and `candidatesPerField`), then replaces each word none of them holds by its closest
   * candidate that some do, as the embedded index does with its own vocabulary.
   */
  async #didYouMean(request: SearchRequest, words: string[], suggest: unknown): Promise<string | undefined> {
    const found = candidatesOf(words, suggest);
    if (found.length === 0) return undefined;
    const terms = [...new Set(found.flatMap(({ analysed, candidates }) => [analysed, ...candidates.keys()]))];
    const response = await this.#client.search(
      buildCorrectionCountBody(request.tenantId, terms, this.#names.readAlias),
    );
    const buckets =
      (response.aggregations?.did_you_mean as { buckets?: Record<string, { doc_count: number }> } | undefined)
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
    return didYouMeanText(request.text, corrections);
  }

  async suggest(tenantId: string, prefix: string, first: number, options?: ReadOptions): Promise<string[]> {
    if (tokensOf(prefix).length === 0 || first < 1) return [];
    const response = await this.#client.search<{ title: string }>(
      buildSuggestBody(tenantId, prefix, first, this.#names.readAlias),
      { signal: options?.signal },
    );
    return response.hits.hits.flatMap((hit) => (hit._source ? [hit._source.title] : []));
  }

  async apply(changes: readonly DocumentChange[]): Promise<ApplyResult> {
    return this.write(changes, { rewriteEqualVersions: false });
  }

  async synonyms(tenantId: string): Promise<Synonyms> {
    const response = await this.#client.get<Partial<SynonymsDocument>>(
      {
        index: this.#names.synonymsIndex,
        id: tenantId,
        _source_includes: ['equivalents', 'rules'],
      },
      // No document (or no index yet) is a tenant that never set synonyms.
      { ignore: [404] },
    );
    const source = response._source;
    return source ? { equivalents: source.equivalents ?? [], rules: source.rules ?? [] } : noSynonyms;
  }

  /** A get by id is real-time, so the next search uses the new synonyms without a refresh. */
  async replaceSynonyms(tenantId: string, synonyms: Synonyms): Promise<void> {
    await ensureSynonymsIndex(this.#client, this.#names);
    const document: SynonymsDocument = { tenant_id: tenantId, ...synonyms, lookup: synonymLookup(synonyms) };
    await this.#client.index({ index: this.#names.synonymsIndex, id: tenantId, document });
  }

  /**
   * Applies changes as `apply` does. With `rewriteEqualVersions`, a change
   * whose version equals the newest copy is written again (into the write
   * index, removing other copies): the reindex uses it to gather every
   * document into a new index and to mark what it has seen.
   */
  async write(
    changes: readonly DocumentChange[],
    { rewriteEqualVersions }: { rewriteEqualVersions: boolean },
  ): Promise<ApplyResult> {
    // Within one batch only the newest change of each document matters.
    const latest = new Map<string, DocumentChange>();
    for (const change of changes) {
      const key = indexedId(change.tenantId, change.documentId);
      const seen = latest.get(key);
      if (!seen || change.version > seen.version) latest.set(key, change);
    }
    if (latest.size === 0) return { rejected: [] };
    const layout = await readAliasLayout(this.#client, this.#names);
    const copies = await this.#copiesOf([...latest.values()], layout);
    const indexedAt = new Date().toISOString();
    const operations: BulkOperation[] = [];
    // The change each action line belongs to, so a refused bulk item is reported as that change.
    const owners: DocumentChange[] = [];
    const push = (
      change: DocumentChange,
      action: estypes.BulkOperationContainer,
      source?: IndexedDocument,
    ) => {
      operations.push(action, ...(source ? [source] : []));
      owners.push(change);
    };
    for (const [id, change] of latest) {
      const found = copies.get(id) ?? [];
      const newest = found.reduce<StoredCopy | undefined>(
        (best, copy) => (!best || copy.version > best.version ? copy : best),
        undefined,
      );
      const guardedDelete = (copy: StoredCopy) => ({
        delete: {
          _index: copy.index,
          _id: id,
          routing: change.tenantId,
          if_seq_no: copy.seqNo,
          if_primary_term: copy.primaryTerm,
        },
      });
      const writes =
        !newest ||
        newest.version < change.version ||
        (rewriteEqualVersions && newest.version === change.version);
      if (!writes) {
        // Nothing to write, but an older copy may linger: a batch whose write landed and whose delete of
        // the old copy did not (a 429, a timeout) is retried, and must still finish the move.
        for (const copy of found) if (copy !== newest) push(change, guardedDelete(copy));
        continue;
      }
      push(
        change,
        {
          index: {
            // The write index read above, by name rather than through the alias: if rollover moves the
            // alias meanwhile, the copy still lands where the deletes below expect it.
            _index: layout.writeIndex,
            _id: id,
            routing: change.tenantId,
            version: change.version,
            // external_gte only when rewriting an equal version; a plain apply must be strictly newer.
            version_type: rewriteEqualVersions ? 'external_gte' : 'external',
          },
        },
        toIndexed(change, indexedAt),
      );
      for (const copy of found) if (copy.index !== layout.writeIndex) push(change, guardedDelete(copy));
    }
    return this.#execute(operations, owners);
  }

  /**
   * The tenant's synonyms document, then every copy of its documents, tombstones included, in every
   * backing index: one routed delete-by-query over the read alias, waited for and refreshed so a search
   * right after finds nothing.
   */
  async eraseTenant(tenantId: string): Promise<void> {
    await this.#client.delete(
      { index: this.#names.synonymsIndex, id: tenantId, refresh: true },
      { ignore: [404] },
    );
    await this.#client.deleteByQuery({
      index: this.#names.readAlias,
      routing: tenantId,
      conflicts: 'proceed',
      refresh: true,
      wait_for_completion: true,
      query: { term: { tenant_id: tenantId } },
    });
  }

  /**
   * Tombstones of deletes committed before `deletedBefore`, across every backing index. Those written
   * before tombstones carried `deleted_at` go by `indexed_at`, which is never earlier than the delete.
   * A tombstone overwritten meanwhile (the id written again) is a version conflict, which is skipped.
   */
  async pruneTombstones(deletedBefore: Date, limit: number): Promise<number> {
    const before = deletedBefore.toISOString();
    const response = await this.#client.deleteByQuery({
      index: this.#names.readAlias,
      conflicts: 'proceed',
      max_docs: limit,
      wait_for_completion: true,
      query: buildTombstoneQuery(before),
    });
    return response.deleted ?? 0;
  }

  async close(): Promise<void> {
    // The client belongs to whoever built it (openSearchIndex), which closes it.
  }

  /** The lookup entries of these keys only, read by id in real time: a search pays one small get for synonyms. */
  async #synonymLookup(tenantId: string, keys: readonly string[]): Promise<SynonymLookup> {
    const response = await this.#client.get<Partial<SynonymsDocument>>(
      {
        index: this.#names.synonymsIndex,
        id: tenantId,
        _source_includes: keys.map((key) => `lookup.${key}`),
      },
      { ignore: [404] },
    );
    return response._source?.lookup ?? {};
  }

  /** Every copy of these documents in any backing index, read in real time (not through a search). */
  async #copiesOf(changes: DocumentChange[], layout: AliasLayout): Promise<Map<string, StoredCopy[]>> {
    const indices = [...new Set([...layout.readIndices, layout.writeIndex])];
    const docs = changes.flatMap((change) =>
      indices.map((index) => ({
        _index: index,
        _id: indexedId(change.tenantId, change.documentId),
        routing: change.tenantId,
        _source: false as const,
      })),
    );
    const response = await this.#client.mget({ docs });
    const copies = new Map<string, StoredCopy[]>();
    for (const doc of response.docs) {
      if ('error' in doc)
        throw new Error(`Reading ${doc._id} from ${doc._index} failed: ${doc.error.reason}`);
      if (!doc.found) continue;
      const list = copies.get(doc._id) ?? [];
      list.push({
        index: doc._index,
        version: doc._version ?? 0,
        seqNo: doc._seq_no ?? 0,
        primaryTerm: doc._primary_term ?? 0,
      });
      copies.set(doc._id, list);
    }
    return copies;
  }

  /**
   * One request either way: a single index call, or a bulk when there is more than one operation.
   * An item Elasticsearch refuses is reported as its change's rejection; the other items stand.
   */
  async #execute(operations: BulkOperation[], owners: readonly DocumentChange[]): Promise<ApplyResult> {
    if (operations.length === 0) return { rejected: [] };
    const single =
      operations.length === 2
        ? (operations[0] as estypes.BulkOperationContainer | undefined)?.index
        : undefined;
    const document = operations[1] as IndexedDocument | undefined;
    const [owner] = owners;
    if (single && document && owner) {
      const { _index, _id, routing, version, version_type } = single;
      try {
        await this.#client.index({
          index: _index ?? this.#names.writeAlias,
          id: _id,
          routing,
          version,
          version_type,
          document,
          refresh,
        });
      } catch (error) {
        const meta = (error as { meta?: { statusCode?: number } }).meta;
        // 409: a version at least as new is already there, which is exactly what idempotency wants.
        if (meta?.statusCode === 409) return { rejected: [] };
        // An answer about this document rather than about the cluster: the change is refused, not the call.
        if (meta?.statusCode !== undefined && isPermanentStatus(meta.statusCode))
          return { rejected: [{ change: owner, error: String((error as Error).message), permanent: true }] };
        throw error;
      }
      return { rejected: [] };
    }
    const response = await this.#client.bulk({ operations, refresh });
    if (!response.errors) return { rejected: [] };
    const rejected = new Map<DocumentChange, RejectedChange>();
    response.items.forEach((item, position) => {
      const result = Object.values(item)[0];
      const change = owners[position];
      // 409 is a newer version already there, or an old copy that changed since we read it: both fine.
      // A delete of a copy that is already gone answers 404 without an error, so it never gets here.
      if (!result?.error || result.status === 409 || !change || rejected.get(change)?.permanent) return;
      rejected.set(change, {
        change,
        error: `${result.status} ${result.error.type}: ${result.error.reason}`,
        permanent: isPermanentStatus(result.status),
      });
    });
    return { rejected: [...rejected.values()] };
  }
}

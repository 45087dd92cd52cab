import type { SQLInputValue } from 'node:sqlite';
import { LRUCache } from 'lru-cache';
import { stemmer } from 'stemmer';
import type { DocumentChange, DocumentRecord, TombstonePruning } from '../../../server/documents/model.ts';
import type { EmbeddedDatabase } from '../../../server/embedded/sqlite.ts';
import type { ReadOptions } from '../../../server/read-options.ts';
import type { TenantErasure } from '../../../server/tenants/erasure.ts';
import { closestFirst, correctionDistance, didYouMeanText, spelledAs } from '../did-you-mean.ts';
import { createHighlighter, highlightWindowChars, stripMarkers, tokensOf } from '../highlighting.ts';
import {
  allowedEdits,
  highlightTerms,
  isRanked,
  maxCorrections,
  type ParsedQuery,
  parseQuery,
  type QueryClause,
  type QueryTerm,
  stablePrefix,
} from '../query-parser.ts';
import {
  type ApplyResult,
  type FacetBucket,
  type FacetField,
  facetBucketLimit,
  type Highlight,
  type RejectedChange,
  type SearchFilter,
  type SearchHitRecord,
  type SearchIndex,
  type SearchPage,
  type SearchRequest,
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

type Params = Record<string, SQLInputValue>;

/** The names of one tenant's tables; they only ever contain the registry's integer, never the tenant id. */
interface TenantTables {
  fts: string;
  /** Titles again, unstemmed: a prefix such as "runni" must complete "Running", which the stemmed index stores as "run". */
  suggest: string;
  docs: string;
  tags: string;
  /** FTS5's own list of the tenant's indexed words, where typo corrections come from. */
  vocab: string;
}

/** The matching documents of a request as a FROM clause plus conditions, shared by hits, total and facets. */
interface Matches {
  /** Whether text narrows the matches, which is when bm25() and highlights exist. */
  ranked: boolean;
  from: string;
  conditions: string[];
  params: Params;
}

/** A row of the search statement: a hit, the total, or a facet bucket, told apart by `kind`. */
type ResultRow = {
  kind: 'hit' | 'total' | FacetField;
  value: string;
  score: number;
  sort_value: number | string;
  /** The first `highlightWindowChars` of each field, read only for highlighting. */
  title_text: string | null;
  body_text: string | null;
  count: number;
};

const facetColumns = { STATUS: 'status', AUTHOR: 'author' } as const;

/** What a search statement counts over every match. */
interface Counts {
  facets: FacetField[];
  total: boolean;
}
const noCounts: Counts = { facets: [], total: false };

/** A search statement's page: how many hits, whether highlighted, and from which candidates if not every match. */
interface PageRequest {
  limit: number;
  highlights: boolean;
  candidates?: readonly Matches[];
}

/** How a ranked page may skip the matches with only common words (see `#ranking`). */
interface Pruning {
  /** The matches with a rarer word: with a common word too, and without. */
  candidates: readonly Matches[];
  /** No match with only common words scores above this. */
  bound: number;
}

const noWords: ParsedQuery = { optional: [], required: [], excluded: [] };

/** A word without synonyms, corrections or a prefix: one phrase, whose document count bounds its score. */
const isPlain = (term: QueryTerm) => !term.prefix && !term.alternatives?.length && !term.synonyms?.length;

/**
 * The most one phrase adds to FTS5's bm25() of any row: its idf, computed
 * and floored as FTS5 does, times k1 + 1 (FTS5's k1 is 1.2), which the
 * saturating term-frequency factor never reaches.
 */
function maxScoreOf(rows: number, hits: number): number {
  const idf = Math.log((rows - hits + 0.5) / (hits + 0.5));
  return (idf <= 0 ? 1e-6 : idf) * 2.2;
}
/** Documents of the tenant matching an FTS5 expression, or all of them for `null`, in the search's snapshot. */
type DocumentCounter = (match: string | null) => number;
/** Document counts (a number each) kept per process at most. */
const keptCountsMax = 20_000;

/** Headroom over the bound for floating-point rounding between this sum and FTS5's. */
const boundMargin = 1.001;

/** Distinct values of one field that kept counts hold at most; a field with more is counted per search. */
const keptFacetsMaxValues = 1_000;
/** Values (a bucket each) that kept counts hold at most per process, least recently used dropped first. */
const keptFacetsMaxBuckets = 200_000;

export interface SqliteSearchIndexOptions {
  /**
   * A word in at least this many of a tenant's documents has its facet
   * counts kept between searches (see `#queryWithKeptFacets`): counting them
   * is most of what a search with such a word costs, and below this
   * counting is cheap. Default 2,000.
   */
  keptFacetsMinDocuments?: number;
  /**
   * A word in at least this many of a tenant's documents, and in at least
   * `prunedWordMinShare` of them, may be left out of a ranked page's
   * candidates when the query has a rarer word (see `#ranking`). Defaults
   * 2,000 and a quarter: below those, ranking every match is cheap, or the
   * word's score could pass the rarer words'.
   */
  prunedWordMinDocuments?: number;
  prunedWordMinShare?: number;
}

/** The facet counts of one query's matches in one field (undefined past `keptFacetsMaxValues`), and how many matches. */
interface FieldCounts {
  counts: Map<string, number> | undefined;
  matched: number;
}

const noFilter = (filter: SearchFilter) =>
  !filter.tags?.length &&
  !filter.status?.length &&
  filter.author === undefined &&
  !filter.updatedAfter &&
  !filter.updatedBefore;

/** SQLite orders text by its UTF-8 bytes; JavaScript's `<` by UTF-16 units, which differs above U+FFFF. */
const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

const tablesFor = (tableNo: number): TenantTables => ({
  fts: `search_fts_${tableNo}`,
  suggest: `search_suggest_${tableNo}`,
  docs: `search_docs_${tableNo}`,
  tags: `search_tags_${tableNo}`,
  vocab: `search_vocab_${tableNo}`,
});

const rankOf = (t: TenantTables) => `bm25(${t.fts}, 4.0, 1.0, 2.0)`;

/** Only letters and digits reach FTS5, each quoted, so query syntax in user text is never interpreted. */
const quote = (token: string) => `"${token}"`;

function ftsTerm(term: QueryTerm): string {
  if (term.prefix) return `${quote(stablePrefix(term.word))}*`;
  const synonyms = term.synonyms ?? [];
  const others = [...(term.alternatives ?? []), ...synonyms];
  if (others.length === 0) return quote(term.word);
  // bm25() sums over every phrase of the expression, so the word named twice counts double beside its synonyms.
  const own = synonyms.length > 0 ? [term.word, term.word] : [term.word];
  return `(${[...own, ...others].map(quote).join(' OR ')})`;
}

/** Vocabulary rows read per misspelled word at most, so a correction's cost does not grow with the tenant. */
const maxVocabularyScan = 20_000;
const ftsClause = ({ terms }: QueryClause) =>
  terms.length === 1 && terms[0] ? ftsTerm(terms[0]) : quote(terms.map((term) => term.word).join(' '));

/**
 * The FTS5 expression that selects and ranks a parsed query's candidates.
 * Optional words are OR'ed, so bm25() sums over the words a document has.
 * With required clauses, the optional words join an OR beside them that
 * only adds score; the required clauses are in it too, so a document with
 * no optional word still matches.
 */
function ftsMatch(query: ParsedQuery): string | null {
  const required = query.required.map(ftsClause);
  const optional = query.optional.map(ftsTerm);
  let positive: string | null = null;
  if (required.length > 0 && optional.length > 0) {
    positive = `${required.join(' AND ')} AND (${[...optional, ...required].join(' OR ')})`;
  } else if (required.length > 0) positive = required.join(' AND ');
  else if (optional.length > 0) positive = optional.join(' OR ');
  if (positive === null || query.excluded.length === 0) return positive;
  return `(${positive}) NOT (${query.excluded.map(ftsClause).join(' OR ')})`;
}

/** With nothing to match, exclusions still narrow: every document but those matching any of them. */
const ftsExclusion = (query: ParsedQuery): string | null =>
  !isRanked(query) && query.excluded.length > 0 ? query.excluded.map(ftsClause).join(' OR ') : null;

const whereOf = (matches: Matches, ...extra: string[]) =>
  `${matches.from} WHERE ${[...matches.conditions, ...extra].join(' AND ') || 'TRUE'}`;

function matchesOf(
  t: TenantTables,
  query: ParsedQuery,
  filter: SearchFilter,
  { match = ftsMatch(query), parameter = 'match' }: { match?: string | null; parameter?: string } = {},
): Matches {
  const conditions: string[] = [];
  const params: Params = {};
  let from = `FROM ${t.docs} AS d`;
  if (match !== null) {
    from = `FROM ${t.fts} JOIN ${t.docs} AS d ON d.rowid = ${t.fts}.rowid`;
    conditions.push(`${t.fts} MATCH $${parameter}`);
    params[parameter] = match;
  }
  const exclusion = ftsExclusion(query);
  if (exclusion !== null) {
    conditions.push(`d.rowid NOT IN (SELECT rowid FROM ${t.fts} WHERE ${t.fts} MATCH $exclude)`);
    params.exclude = exclusion;
  }
  // Lists travel as one JSON parameter so the SQL text, and thus the statement cache, doesn't grow with their length.
  const tags = [...new Set(filter.tags ?? [])];
  if (tags.length > 0) {
    conditions.push(
      `d.rowid IN (SELECT doc_rowid FROM ${t.tags} WHERE tag IN (SELECT value FROM json_each($tags)) GROUP BY doc_rowid HAVING count(*) = $tagCount)`,
    );
    params.tags = JSON.stringify(tags);
    params.tagCount = tags.length;
  }
  if (filter.status && filter.status.length > 0) {
    conditions.push('d.status IN (SELECT value FROM json_each($statuses))');
    params.statuses = JSON.stringify(filter.status);
  }
  if (filter.author !== undefined) {
    conditions.push('d.author = $author');
    params.author = filter.author;
  }
  if (filter.updatedAfter) {
    conditions.push('d.updated_at > $updatedAfter');
    params.updatedAfter = filter.updatedAfter.toISOString();
  }
  if (filter.updatedBefore) {
    conditions.push('d.updated_at < $updatedBefore');
    params.updatedBefore = filter.updatedBefore.toISOString();
  }
  return { ranked: match !== null, from, conditions, params };
}

type Highlighter = ReturnType<typeof createHighlighter>;

function highlightsOf(row: ResultRow, highlighter: Highlighter | undefined): Highlight[] {
  if (!highlighter) return [];
  const highlights: Highlight[] = [];
  const title = row.title_text === null ? undefined : highlighter.whole(row.title_text);
  if (title !== undefined) highlights.push({ field: 'title', snippets: [title] });
  const body = row.body_text === null ? undefined : highlighter.fragment(row.body_text);
  if (body !== undefined) highlights.push({ field: 'body', snippets: [body] });
  return highlights;
}

/** Why the index cannot take this change whatever it retries, or undefined when it can. */
function refusalOf(change: DocumentChange): string | undefined {
  if (change.operation === 'upsert' && !change.document)
    return `Upsert of ${change.documentId} carries no document`;
  return undefined;
}

const hitOf = (row: ResultRow, highlighter: Highlighter | undefined): SearchHitRecord => ({
  documentId: row.value,
  score: row.score,
  highlights: highlightsOf(row, highlighter),
  sortKey: [row.sort_value, row.value],
});

/** The search port on the embedded database: one FTS5 table set per tenant, so a tenant's cost ignores the others. */
export class SqliteSearchIndex implements SearchIndex, SynonymStore, TenantErasure, TombstonePruning {
  readonly #db: EmbeddedDatabase;
  /** Keyed by tenant, table, field, word and the tenant's generation, so a change to the tenant is never counted from before it. */
  readonly #keptFacets = new LRUCache<string, FieldCounts>({
    maxSize: keptFacetsMaxBuckets,
    sizeCalculation: (kept) => 1 + (kept.counts?.size ?? 0),
  });
  /** Keyed by table, generation and expression, as `#keptFacets` is. */
  readonly #keptCounts = new LRUCache<string, number>({ max: keptCountsMax });
  readonly #keptFacetsMinDocuments: number;
  readonly #prunedWordMinDocuments: number;
  readonly #prunedWordMinShare: number;

  constructor(
    db: EmbeddedDatabase,
    {
      keptFacetsMinDocuments = 2_000,
      prunedWordMinDocuments = 2_000,
      prunedWordMinShare = 0.25,
    }: SqliteSearchIndexOptions = {},
  ) {
    this.#db = db;
    this.#keptFacetsMinDocuments = keptFacetsMinDocuments;
    this.#prunedWordMinDocuments = prunedWordMinDocuments;
    this.#prunedWordMinShare = prunedWordMinShare;
    db.connection.exec(`
      CREATE TABLE IF NOT EXISTS search_tenants (
        tenant_id TEXT PRIMARY KEY,
        table_no INTEGER NOT NULL UNIQUE
      );
      CREATE TABLE IF NOT EXISTS search_versions (
        tenant_id TEXT NOT NULL,
        doc_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        -- When the delete committed, for a tombstone; null while the document lives.
        deleted_at TEXT,
        PRIMARY KEY (tenant_id, doc_id)
      ) WITHOUT ROWID;
      -- A new generation for each change to a tenant, so a reader can tell whether what it kept of the
      -- tenant still holds. AUTOINCREMENT never hands out a number twice, not even after an erasure
      -- deleted the tenant's row, so a tenant indexed again never meets what was kept before.
      CREATE TABLE IF NOT EXISTS search_generations (
        generation INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant_id TEXT NOT NULL UNIQUE
      );
      CREATE TABLE IF NOT EXISTS search_synonyms (
        tenant_id TEXT PRIMARY KEY,
        synonyms_json TEXT NOT NULL
      );
      -- What each synonym key expands to, so a search reads only its own words' rows.
      CREATE TABLE IF NOT EXISTS search_synonym_lookup (
        tenant_id TEXT NOT NULL,
        key TEXT NOT NULL,
        words_json TEXT NOT NULL,
        PRIMARY KEY (tenant_id, key)
      ) WITHOUT ROWID;
    `);
    db.transaction(() => this.#timeTombstones());
    // Tenants indexed before typo tolerance existed get their vocabulary table here, so searches never write.
    const tenants = db.connection.prepare('SELECT table_no FROM search_tenants').all() as {
      table_no: number;
    }[];
    for (const { table_no: tableNo } of tenants) {
      const t = tablesFor(tableNo);
      db.connection.exec(`CREATE VIRTUAL TABLE IF NOT EXISTS ${t.vocab} USING fts5vocab(${t.fts}, 'row')`);
    }
  }

  /**
   * Versions from before pruning existed have no deletion time, so the tombstones among them (versions
   * with no indexed document) get the oldest time there is: the index forgets them at the first pruning,
   * never after the documents store, which counts its own from the upgrade.
   */
  #timeTombstones() {
    const timed = this.#db.statement(
      "SELECT 1 FROM pragma_table_info('search_versions') WHERE name = 'deleted_at'",
    );
    if (!timed.get()) {
      this.#db.connection.exec('ALTER TABLE search_versions ADD COLUMN deleted_at TEXT');
      const epoch = new Date(0).toISOString();
      const tenants = this.#db.statement('SELECT tenant_id, table_no FROM search_tenants').all() as {
        tenant_id: string;
        table_no: number;
      }[];
      for (const { tenant_id: tenantId, table_no: tableNo } of tenants)
        this.#db
          .statement(
            `UPDATE search_versions SET deleted_at = ? WHERE tenant_id = ?
               AND doc_id NOT IN (SELECT doc_id FROM ${tablesFor(tableNo).docs})`,
          )
          .run(epoch, tenantId);
      this.#db
        .statement(
          'UPDATE search_versions SET deleted_at = ? WHERE tenant_id NOT IN (SELECT tenant_id FROM search_tenants)',
        )
        .run(epoch);
    }
    this.#db.connection.exec(
      'CREATE INDEX IF NOT EXISTS search_versions_by_deleted ON search_versions (deleted_at) WHERE deleted_at IS NOT NULL',
    );
  }

  async pruneTombstones(deletedBefore: Date, limit: number): Promise<number> {
    return this.#db.transaction(() =>
      Number(
        this.#db
          .statement(
            `DELETE FROM search_versions WHERE (tenant_id, doc_id) IN (
               SELECT tenant_id, doc_id FROM search_versions
               WHERE deleted_at IS NOT NULL AND deleted_at < ? LIMIT ?)`,
          )
          .run(deletedBefore.toISOString(), limit).changes,
      ),
    );
  }

  /** Runs on the caller's thread to its end once started; `SqliteSearchWorkerPool` is what stops one midway. */
  async search(request: SearchRequest, options?: ReadOptions): Promise<SearchPage> {
    options?.signal?.throwIfAborted();
    // Parsed first: a query over the term bound is refused whether or not the tenant has documents.
    const query = parseQuery(request.text);
    const tableNo = this.#tableNo(request.tenantId);
    if (tableNo === undefined) {
      return {
        total: 0,
        hits: [],
        facets: request.facets.map((field) => ({ field, buckets: [] })),
        hasNextPage: false,
      };
    }
    const t = tablesFor(tableNo);
    const first = Math.max(0, request.first);
    const facets = [...new Set(request.facets)];
    // One read transaction: the words' counts, the page and the facets all come from one snapshot.
    const { rows, highlighter, didYouMean } = this.#db.read(() => {
      const generation = this.#generationOf(request.tenantId);
      const documents: DocumentCounter = (match) => this.#documentsMatching(t, generation, match);
      const expanded = this.#withSynonyms(request.tenantId, query);
      const corrected =
        request.typoTolerance === false ? expanded : this.#withCorrections(t, expanded, documents);
      const { query: ranked, pruning } = this.#ranking(t, corrected, request, documents);
      const matches = matchesOf(t, ranked, request.filter);
      const highlighter =
        request.highlights && matches.ranked ? createHighlighter(highlightTerms(expanded)) : undefined;
      const page: PageRequest = { limit: first + 1, highlights: highlighter !== undefined };
      const rowsOf = (counts: Counts) =>
        pruning
          ? this.#prunedOrFull(t, matches, request, page, counts, pruning)
          : this.#query(t, matches, request, page, counts);
      const common = facets.length > 0 ? this.#commonWords(ranked, request.filter, documents) : [];
      const rows =
        common.length > 0
          ? this.#queryWithKeptFacets(request.tenantId, t, generation, ranked, common, facets, rowsOf)
          : rowsOf({ facets, total: true });
      const didYouMean =
        request.didYouMean && request.typoTolerance !== false
          ? this.#didYouMean(request.text, corrected)
          : undefined;
      return { rows, highlighter, didYouMean };
    });
    const hits = rows.filter((row) => row.kind === 'hit');
    return {
      total: rows.find((row) => row.kind === 'total')?.count ?? 0,
      hits: hits.slice(0, first).map((row) => hitOf(row, highlighter)),
      facets: facets.map((field) => ({
        field,
        buckets: rows
          .filter((row) => row.kind === field)
          .map((row): FacetBucket => ({ value: row.value, count: row.count })),
      })),
      hasNextPage: hits.length > first,
      ...(didYouMean === undefined ? {} : { didYouMean }),
    };
  }

  async suggest(tenantId: string, prefix: string, first: number, options?: ReadOptions): Promise<string[]> {
    options?.signal?.throwIfAborted();
    const tokens = tokensOf(prefix);
    const tableNo = this.#tableNo(tenantId);
    if (tokens.length === 0 || tableNo === undefined) return [];
    const t = tablesFor(tableNo);
    const terms = tokens.map((token, i) => (i === tokens.length - 1 ? `${quote(token)}*` : quote(token)));
    // FTS5 refuses bm25() under GROUP BY, so rank in a materialized step first.
    const rows = this.#db
      .statement(
        `WITH ranked AS MATERIALIZED (SELECT title, rank AS rank_value FROM ${t.suggest} WHERE ${t.suggest} MATCH $match)
         SELECT title FROM ranked GROUP BY title ORDER BY min(rank_value), title LIMIT $limit`,
      )
      .all({ match: terms.join(' AND '), limit: Math.max(0, first) }) as { title: string }[];
    return rows.map((row) => row.title);
  }

  async apply(changes: readonly DocumentChange[]): Promise<ApplyResult> {
    const rejected: RejectedChange[] = [];
    this.#db.transaction(() => {
      for (const change of changes) {
        // Checked before any write, so a refused change leaves nothing behind in the shared transaction.
        const refusal = refusalOf(change);
        if (refusal) rejected.push({ change, error: refusal, permanent: true });
        else this.#applyChange(change);
      }
    });
    return { rejected };
  }

  async synonyms(tenantId: string): Promise<Synonyms> {
    const row = this.#db
      .statement('SELECT synonyms_json FROM search_synonyms WHERE tenant_id = ?')
      .get(tenantId) as { synonyms_json: string } | undefined;
    return row ? (JSON.parse(row.synonyms_json) as Synonyms) : noSynonyms;
  }

  async replaceSynonyms(tenantId: string, synonyms: Synonyms): Promise<void> {
    this.#db.transaction(() => {
      this.#forgetSynonyms(tenantId);
      this.#db
        .statement('INSERT INTO search_synonyms (tenant_id, synonyms_json) VALUES (?, ?)')
        .run(tenantId, JSON.stringify(synonyms));
      const insert = this.#db.statement(
        'INSERT INTO search_synonym_lookup (tenant_id, key, words_json) VALUES (?, ?, ?)',
      );
      for (const [key, words] of Object.entries(synonymLookup(synonyms)))
        insert.run(tenantId, key, JSON.stringify(words));
    });
  }

  /** Drops the tenant's tables and forgets its versions (tombstones included) and its synonyms. */
  async eraseTenant(tenantId: string): Promise<void> {
    this.#db.transaction(() => {
      this.#forgetSynonyms(tenantId);
      const tableNo = this.#tableNo(tenantId);
      if (tableNo !== undefined) {
        for (const table of Object.values(tablesFor(tableNo)))
          this.#db.connection.exec(`DROP TABLE IF EXISTS ${table}`);
        this.#db.statement('DELETE FROM search_tenants WHERE tenant_id = ?').run(tenantId);
      }
      this.#db.statement('DELETE FROM search_versions WHERE tenant_id = ?').run(tenantId);
      this.#db.statement('DELETE FROM search_generations WHERE tenant_id = ?').run(tenantId);
    });
  }

  #nextGeneration(tenantId: string) {
    this.#db
      .statement(
        // REPLACE deletes the tenant's row and inserts it anew, with the next number.
        'INSERT OR REPLACE INTO search_generations (tenant_id) VALUES (?)',
      )
      .run(tenantId);
  }

  async close(): Promise<void> {
    // The database is shared with the documents store and the outbox; its owner closes it.
  }

  /**
   * The page, the total and every requested facet in one statement, so they
   * come from one snapshot even while the indexer commits on another
   * connection. Text matches are materialized once when facets reuse them:
   * bm25() and the join to the documents then run once for every match.
   * Otherwise the CTE is inlined, which measured faster: without facets the
   * page keeps only its top rows and the total stops at `totalLimit` without
   * bm25() (a common term at 50k documents per tenant: about 60 ms
   * materialized, 46 ms inlined), and without text, scanning the documents
   * again costs less than copying them (an empty query with facets at 50k
   * documents per tenant: about 95 ms materialized, 80 ms inlined). Without
   * `page`, only the counts, and no bm25(): text matches are then
   * materialized for facets too, so `MATCH` runs once rather than per count.
   */
  #query(
    t: TenantTables,
    matches: Matches,
    request: SearchRequest,
    page: PageRequest | undefined,
    { facets, total }: Counts,
  ) {
    const ranked = matches.ranked && page !== undefined;
    const byRank = ranked && request.sort === 'RELEVANCE';
    // Empty text has no relevance to speak of, so RELEVANCE falls back to newest first.
    const direction = request.sort === 'UPDATED_ASC' || byRank ? 'ASC' : 'DESC';
    const order = `sort_value ${direction}, doc_id ${direction}`;
    const params: Params = { ...matches.params };
    const columns = `d.rowid AS rowid, d.doc_id AS doc_id, ${ranked ? `-${rankOf(t)}` : '0.0'} AS score,
      ${byRank ? rankOf(t) : 'd.updated_at'} AS sort_value, d.status AS status, d.author AS author`;
    const tables = [
      `matches AS ${(ranked || (page === undefined && matches.ranked)) && facets.length > 0 ? 'MATERIALIZED' : 'NOT MATERIALIZED'} (SELECT ${columns} ${whereOf(matches)})`,
    ];
    const parts: string[] = [];
    if (page) {
      let keyset = '';
      if (request.after) {
        // bm25 moves with every write to the tenant (its document count and average length), so a score kept
        // in a cursor goes stale and the next page would repeat or skip hits: continue from the last hit's
        // score as it is now, and from the kept one only if that hit no longer matches.
        const anchor = byRank
          ? `coalesce((SELECT ${rankOf(t)} FROM ${t.fts} WHERE ${t.fts} MATCH $match
               AND rowid = (SELECT rowid FROM ${t.docs} WHERE doc_id = $afterId)), $afterValue)`
          : '$afterValue';
        keyset = `WHERE (sort_value, doc_id) ${direction === 'ASC' ? '>' : '<'} (${anchor}, $afterId)`;
        params.afterValue = request.after[0] ?? null;
        params.afterId = request.after[1] ?? null;
      }
      let source = 'matches';
      if (page.candidates) {
        source = 'candidates';
        tables.push(
          `candidates AS (${page.candidates.map((candidates) => `SELECT ${columns} ${whereOf(candidates)}`).join(' UNION ALL ')})`,
        );
        for (const candidates of page.candidates) Object.assign(params, candidates.params);
      }
      tables.push(`page AS (SELECT *, row_number() OVER (ORDER BY ${order}) AS position
        FROM (SELECT * FROM ${source} ${keyset} ORDER BY ${order} LIMIT $limit))`);
      params.limit = page.limit;
      // Highlighting reads a bounded start of the text, for the page's rows only, and marks it in JS.
      parts.push(
        page.highlights
          ? `SELECT 'hit' AS kind, position, doc_id AS value, score, sort_value,
               substr(${t.fts}.title, 1, $window) AS title_text, substr(${t.fts}.body, 1, $window) AS body_text,
               NULL AS count
             FROM page JOIN ${t.fts} ON ${t.fts}.rowid = page.rowid`
          : `SELECT 'hit' AS kind, position, doc_id AS value, score,
               sort_value, NULL AS title_text, NULL AS body_text, NULL AS count FROM page`,
      );
      if (page.highlights) params.window = highlightWindowChars;
    }
    if (total) {
      parts.push(
        `SELECT 'total' AS kind, 0 AS position, NULL AS value, NULL AS score, NULL AS sort_value,
           NULL AS title_text, NULL AS body_text, count(*) AS count FROM (SELECT 1 FROM matches LIMIT $cap)`,
      );
      params.cap = totalLimit;
    }
    for (const field of facets) parts.push(`SELECT * FROM (${this.#facet(t, field)})`);
    if (facets.length > 0) params.buckets = facetBucketLimit;
    return this.#db
      .statement(`WITH ${tables.join(', ')} ${parts.join(' UNION ALL ')} ORDER BY kind, position`)
      .all(params) as unknown as ResultRow[];
  }

  /**
   * The page from the pruned candidates when that is provably the page over
   * every match (a full page scoring above the bound, which no match left out
   * reaches), else the page over every match; the counts over every match
   * either way.
   */
  #prunedOrFull(
    t: TenantTables,
    matches: Matches,
    request: SearchRequest,
    page: PageRequest,
    counts: Counts,
    pruning: Pruning,
  ) {
    const hits = this.#query(t, matches, request, { ...page, candidates: pruning.candidates }, noCounts);
    const last = hits.at(-1);
    if (hits.length < page.limit || last === undefined || last.score <= pruning.bound)
      return this.#query(t, matches, request, page, counts);
    const counted = counts.total || counts.facets.length > 0;
    return counted ? [...hits, ...this.#query(t, matches, request, undefined, counts)] : hits;
  }

  /**
   * A ranked query of optional words, reordered so that it scores the same
   * however its page is found, and how that page can skip the matches that
   * have only the tenant's most common words. FTS5 runs bm25() over every
   * match, with no top-k pruning such as WAND or MaxScore, so a word in most
   * documents is most of what such a search costs, though it adds almost
   * nothing to any score. bm25() sums one term per phrase, in the order the
   * expression names them, and a word in `hits` of `rows` documents adds at
   * most its idf × (k1 + 1) to any score (`maxScoreOf`), so a document with
   * only common words scores below the sum of theirs: the bound. The page is
   * then taken from the candidates with a rarer word, split by FTS5 into
   * those with a common word too and those without, each scored with the
   * phrases of the whole query in the same order, so every score equals the
   * one over every match to the bit. That order is the same whether or not a
   * search prunes: words with synonyms, corrections or a prefix first, then
   * plain words from the fewest documents to the most (OR matches the same
   * in any order).
   */
  #ranking(
    t: TenantTables,
    query: ParsedQuery,
    request: SearchRequest,
    documents: DocumentCounter,
  ): { query: ParsedQuery; pruning?: Pruning } {
    const prunable = query.required.length === 0 && query.excluded.length === 0 && query.optional.length > 1;
    if (request.sort !== 'RELEVANCE' || !prunable) return { query };
    const counted = new Map(query.optional.filter(isPlain).map((term) => [term, documents(ftsTerm(term))]));
    const documentsWith = (term: QueryTerm) => counted.get(term) ?? 0;
    const plain = query.optional.filter(isPlain).sort((a, b) => documentsWith(a) - documentsWith(b));
    const ordered = [...query.optional.filter((term) => !isPlain(term)), ...plain];
    const rows = documents(null);
    const floor = Math.max(this.#prunedWordMinDocuments, this.#prunedWordMinShare * rows);
    const isCommon = (term: QueryTerm) => isPlain(term) && documentsWith(term) >= floor;
    // The most frequent plain words from the floor up, and never every word: one at least stays a candidate's.
    let rarerCount = ordered.length;
    while (rarerCount > 1 && isCommon(ordered[rarerCount - 1] as QueryTerm)) rarerCount -= 1;
    const reordered = { ...query, optional: ordered };
    if (rarerCount === ordered.length) return { query: reordered };
    const rarer = ordered.slice(0, rarerCount);
    const common = ordered.slice(rarerCount);
    const bound = boundMargin * common.reduce((sum, term) => sum + maxScoreOf(rows, documentsWith(term)), 0);
    const rarerMatch = rarer.map(ftsTerm).join(' OR ');
    const commonMatch = common.map(ftsTerm).join(' OR ');
    const candidatesOf = (match: string, parameter: string) =>
      matchesOf(t, noWords, request.filter, { match, parameter });
    return {
      query: reordered,
      pruning: {
        candidates: [
          candidatesOf(`(${rarerMatch}) AND (${commonMatch})`, 'withCommon'),
          candidatesOf(`(${rarerMatch}) NOT (${commonMatch})`, 'withoutCommon'),
        ],
        bound,
      },
    };
  }

  /**
   * The words of a plain query whose matches' facets are worth keeping:
   * those in `keptFacetsMinDocuments` or more of the tenant's documents.
   * Only for queries of optional words with no filter, whose matches are
   * those words' plus the others'.
   */
  #commonWords(query: ParsedQuery, filter: SearchFilter, documents: DocumentCounter): QueryTerm[] {
    if (query.required.length > 0 || query.excluded.length > 0 || !noFilter(filter)) return [];
    return query.optional.filter(
      (term) => isPlain(term) && documents(ftsTerm(term)) >= this.#keptFacetsMinDocuments,
    );
  }

  #generationOf(tenantId: string): number | undefined {
    return (
      this.#db.statement('SELECT generation FROM search_generations WHERE tenant_id = ?').get(tenantId) as
        | { generation: number }
        | undefined
    )?.generation;
  }

  /**
   * How many of the tenant's documents match an FTS5 expression (all of them
   * for `null`), counted as bm25() counts them, and kept while the tenant's
   * generation stands, as facet counts are: each count of a common word
   * reads its whole list of documents.
   */
  #documentsMatching(t: TenantTables, generation: number | undefined, match: string | null): number {
    // No generation yet: the tenant's changes so far may come from an indexer that does not take one.
    const key = generation === undefined ? undefined : JSON.stringify([t.fts, generation, match]);
    const kept = key === undefined ? undefined : this.#keptCounts.get(key);
    if (kept !== undefined) return kept;
    const { n } = (
      match === null
        ? this.#db.statement(`SELECT count(*) AS n FROM ${t.docs}`).get()
        : this.#db.statement(`SELECT count(*) AS n FROM ${t.fts} WHERE ${t.fts} MATCH ?`).get(match)
    ) as { n: number };
    if (key !== undefined) this.#keptCounts.set(key, n);
    return n;
  }

  /**
   * The search statement's rows with the total and the facets counted in two
   * parts: the common words' matches, kept from an earlier search while the
   * tenant's generation is unchanged, plus the other words' matches that lack
   * it, which are few. The two sets are disjoint and together are every
   * match, so the sums are what one count over every match gives. Runs in
   * the caller's read transaction, which read `generation`, so the page, the
   * generation and the counts come from one snapshot. `query` asks for the page (and for the facets of a
   * field with too many values to keep).
   */
  #queryWithKeptFacets(
    tenantId: string,
    t: TenantTables,
    generation: number | undefined,
    parsed: ParsedQuery,
    common: QueryTerm[],
    facets: FacetField[],
    query: (counts: Counts) => ResultRow[],
  ): ResultRow[] {
    const words = common.map((term) => term.word).sort();
    // No generation yet: the tenant's changes so far may come from an indexer that does not count them.
    const keyOf =
      generation === undefined
        ? undefined
        : (field: FacetField) => JSON.stringify([tenantId, t.fts, field, words, generation]);
    const ofCommon = this.#countsOf(t, { optional: common, required: [], excluded: [] }, facets, keyOf);
    const others = parsed.optional.filter((term) => !common.includes(term));
    const ofOthers =
      others.length > 0
        ? this.#countsOf(
            t,
            { optional: others, required: [], excluded: common.map((term) => ({ terms: [term] })) },
            facets,
          )
        : undefined;
    const summed = facets.filter(
      (field) => ofCommon.get(field)?.counts && (!ofOthers || ofOthers.get(field)?.counts),
    );
    const rows = query({ facets: facets.filter((field) => !summed.includes(field)), total: false });
    const matched = (counts: Map<FacetField, FieldCounts> | undefined) =>
      counts?.values().next().value?.matched ?? 0;
    rows.push({
      kind: 'total',
      value: '',
      count: Math.min(totalLimit, matched(ofCommon) + matched(ofOthers)),
      score: 0,
      sort_value: 0,
      title_text: null,
      body_text: null,
    });
    for (const field of summed) {
      const sums = new Map(ofCommon.get(field)?.counts);
      for (const [value, count] of ofOthers?.get(field)?.counts ?? [])
        sums.set(value, (sums.get(value) ?? 0) + count);
      const buckets = [...sums].sort(([a, countA], [b, countB]) => countB - countA || byBytes(a, b));
      for (const [value, count] of buckets.slice(0, facetBucketLimit))
        rows.push({ kind: field, value, count, score: 0, sort_value: 0, title_text: null, body_text: null });
    }
    return rows;
  }

  /**
   * How many documents a query matches and, for each field, every value
   * over them with its count. With `keyOf`, each field's counts are kept
   * under its key and read back while it stands.
   */
  #countsOf(
    t: TenantTables,
    query: ParsedQuery,
    facets: FacetField[],
    keyOf?: (field: FacetField) => string,
  ): Map<FacetField, FieldCounts> {
    const counts = new Map<FacetField, FieldCounts>();
    const missing: FacetField[] = [];
    for (const field of facets) {
      const kept = keyOf && this.#keptFacets.get(keyOf(field));
      if (kept) counts.set(field, kept);
      else missing.push(field);
    }
    if (missing.length === 0) return counts;
    const matches = matchesOf(t, query, {});
    const rows = this.#db
      .statement(
        `WITH matches AS MATERIALIZED (SELECT d.rowid AS rowid, d.status AS status, d.author AS author ${whereOf(matches)}),
         counted (kind, position, value, score, sort_value, title_text, body_text, count) AS (
           SELECT 'total', 0, NULL, NULL, NULL, NULL, NULL, count(*) FROM matches
           UNION ALL ${missing.map((field) => `SELECT * FROM (${this.#facet(t, field)})`).join(' UNION ALL ')})
         SELECT kind, value, count FROM counted`,
      )
      .all({ ...matches.params, buckets: keptFacetsMaxValues + 1 }) as unknown as ResultRow[];
    const matched = rows.find((row) => row.kind === 'total')?.count ?? 0;
    for (const field of missing) {
      const values = rows.filter((row) => row.kind === field);
      const fieldCounts: FieldCounts = {
        counts:
          values.length > keptFacetsMaxValues
            ? undefined
            : new Map(values.map((row) => [row.value, row.count])),
        matched,
      };
      counts.set(field, fieldCounts);
      if (keyOf) this.#keptFacets.set(keyOf(field), fieldCounts);
    }
    return counts;
  }

  /** One facet's buckets as rows of the search statement, counted over every match. */
  #facet(t: TenantTables, field: FacetField): string {
    const [column, from] =
      field === 'TAGS'
        ? // CROSS JOIN fixes the loop order: left to the planner, it scans every tag of the tenant even for three matches.
          ['tag', `matches CROSS JOIN ${t.tags} ON ${t.tags}.doc_rowid = matches.rowid`]
        : [facetColumns[field], 'matches'];
    return `SELECT '${field}' AS kind, row_number() OVER (ORDER BY count(*) DESC, ${column} ASC) AS position,
        ${column} AS value, NULL AS score, NULL AS sort_value, NULL AS title_text, NULL AS body_text, count(*) AS count
      FROM ${from} WHERE ${column} IS NOT NULL GROUP BY ${column} ORDER BY 2 LIMIT $buckets`;
  }

  #forgetSynonyms(tenantId: string) {
    this.#db.statement('DELETE FROM search_synonyms WHERE tenant_id = ?').run(tenantId);
    this.#db.statement('DELETE FROM search_synonym_lookup WHERE tenant_id = ?').run(tenantId);
  }

  /** The query's plain words with the tenant's synonyms of them: the rows of those words only. */
  #withSynonyms(tenantId: string, query: ParsedQuery): ParsedQuery {
    const keys = synonymKeysOf(query);
    if (keys.length === 0) return query;
    const rows = this.#db
      .statement(
        `SELECT key, words_json FROM search_synonym_lookup
         WHERE tenant_id = $tenantId AND key IN (SELECT value FROM json_each($keys))`,
      )
      .all({ tenantId, keys: JSON.stringify(keys) }) as { key: string; words_json: string }[];
    if (rows.length === 0) return query;
    const lookup: SynonymLookup = Object.fromEntries(
      rows.map((row) => [row.key, JSON.parse(row.words_json) as string[]]),
    );
    return withSynonyms(query, lookup);
  }

  /**
   * Typo tolerance for plain words the tenant's index does not hold: up to
   * `maxCorrections` indexed words within `allowedEdits` of it (sharing its
   * first letter, as Elasticsearch's `prefix_length: 1`), most frequent
   * first. A word the index holds is never corrected, so exact matches
   * always rank on their own.
   */
  #withCorrections(t: TenantTables, query: ParsedQuery, documents: DocumentCounter): ParsedQuery {
    const near = this.#db.statement(
      `SELECT term, doc FROM (SELECT term, doc FROM ${t.vocab} WHERE term >= $from AND term < $to LIMIT $scan)
       WHERE length(term) BETWEEN $shortest AND $longest`,
    );
    const optional = query.optional.map((term): QueryTerm => {
      const edits = allowedEdits(term.word);
      if (term.prefix || edits === 0) return term;
      if (documents(quote(term.word)) > 0) return term;
      const stem = stemmer(term.word);
      const first = stem.slice(0, 1);
      const rows = near.all({
        from: first,
        to: `${first}\uffff`,
        scan: maxVocabularyScan,
        shortest: stem.length - edits,
        longest: stem.length + edits,
      }) as { term: string; doc: number }[];
      const alternatives = rows
        .flatMap(({ term: candidate, doc }) => {
          const distance = correctionDistance(term.word, stem, candidate);
          return distance === undefined ? [] : [{ term: candidate, distance, documents: doc }];
        })
        .sort(closestFirst)
        .slice(0, maxCorrections)
        .map((candidate) => candidate.term);
      return alternatives.length > 0 ? { ...term, alternatives } : term;
    });
    return { ...query, optional };
  }

  /** The query as typed with each corrected word replaced by its first correction, spelled as a word. */
  #didYouMean(text: string, corrected: ParsedQuery): string | undefined {
    const corrections = new Map<string, string>();
    for (const term of corrected.optional) {
      const [best] = term.alternatives ?? [];
      if (best !== undefined) corrections.set(term.word, spelledAs(term.word, best));
    }
    return didYouMeanText(text, corrections);
  }

  #applyChange(change: DocumentChange) {
    const stored = this.#db
      .statement('SELECT version FROM search_versions WHERE tenant_id = ? AND doc_id = ?')
      .get(change.tenantId, change.documentId) as { version: number } | undefined;
    if (stored && stored.version >= change.version) return;

    this.#nextGeneration(change.tenantId);
    const tableNo = this.#tableNo(change.tenantId);
    if (change.operation === 'delete') {
      if (tableNo !== undefined) this.#remove(tablesFor(tableNo), change.documentId);
    } else {
      const t = tablesFor(tableNo ?? this.#createTenant(change.tenantId));
      this.#remove(t, change.documentId);
      this.#insert(t, change.documentId, change.document as DocumentRecord);
    }
    // Kept after a delete too: the tombstone stops a replayed older upsert from resurrecting the document.
    // The delete's commit time, which the documents store's tombstone has too: both are pruned by it.
    this.#db
      .statement(
        `INSERT INTO search_versions (tenant_id, doc_id, version, deleted_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (tenant_id, doc_id) DO UPDATE SET version = excluded.version, deleted_at = excluded.deleted_at`,
      )
      .run(
        change.tenantId,
        change.documentId,
        change.version,
        change.operation === 'delete' ? change.committedAt.toISOString() : null,
      );
  }

  #remove(t: TenantTables, docId: string) {
    const row = this.#db.statement(`DELETE FROM ${t.docs} WHERE doc_id = ? RETURNING rowid`).get(docId) as
      | { rowid: number }
      | undefined;
    if (!row) return;
    this.#db.statement(`DELETE FROM ${t.fts} WHERE rowid = ?`).run(row.rowid);
    this.#db.statement(`DELETE FROM ${t.suggest} WHERE rowid = ?`).run(row.rowid);
    this.#db.statement(`DELETE FROM ${t.tags} WHERE doc_rowid = ?`).run(row.rowid);
  }

  #insert(t: TenantTables, docId: string, document: DocumentRecord) {
    const tags = [...new Set(document.tags)];
    const { rowid } = this.#db
      .statement(
        `INSERT INTO ${t.docs} (doc_id, status, author, updated_at, tags_json) VALUES (?, ?, ?, ?, ?) RETURNING rowid`,
      )
      .get(
        docId,
        document.status,
        document.author,
        document.updatedAt.toISOString(),
        JSON.stringify(tags),
      ) as {
      rowid: number;
    };
    // Marker characters in the text would otherwise turn into stray <em> tags in highlights.
    this.#db
      .statement(`INSERT INTO ${t.fts} (rowid, title, body, tags) VALUES (?, ?, ?, ?)`)
      .run(rowid, stripMarkers(document.title), stripMarkers(document.body), tags.join(' '));
    this.#db.statement(`INSERT INTO ${t.suggest} (rowid, title) VALUES (?, ?)`).run(rowid, document.title);
    const insertTag = this.#db.statement(`INSERT INTO ${t.tags} (doc_rowid, tag) VALUES (?, ?)`);
    for (const tag of tags) insertTag.run(rowid, tag);
  }

  #tableNo(tenantId: string): number | undefined {
    const row = this.#db.statement('SELECT table_no FROM search_tenants WHERE tenant_id = ?').get(tenantId) as
      | { table_no: number }
      | undefined;
    return row?.table_no;
  }

  /** Runs inside apply's transaction, which holds the write lock, so max + 1 cannot race. */
  #createTenant(tenantId: string): number {
    const { table_no: tableNo } = this.#db
      .statement(
        `INSERT INTO search_tenants (tenant_id, table_no)
         SELECT ?, coalesce(max(table_no), 0) + 1 FROM search_tenants RETURNING table_no`,
      )
      .get(tenantId) as { table_no: number };
    const t = tablesFor(tableNo);
    this.#db.connection.exec(`
      CREATE VIRTUAL TABLE ${t.fts} USING fts5(
        title, body, tags, tokenize = 'porter unicode61 remove_diacritics 2', prefix = '2 3'
      );
      CREATE VIRTUAL TABLE ${t.vocab} USING fts5vocab(${t.fts}, 'row');
      CREATE VIRTUAL TABLE ${t.suggest} USING fts5(
        title, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3'
      );
      CREATE TABLE ${t.docs} (
        rowid INTEGER PRIMARY KEY,
        doc_id TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL,
        author TEXT,
        updated_at TEXT NOT NULL,
        tags_json TEXT NOT NULL
      );
      CREATE INDEX ${t.docs}_updated ON ${t.docs} (updated_at, doc_id);
      CREATE TABLE ${t.tags} (
        doc_rowid INTEGER NOT NULL,
        tag TEXT NOT NULL,
        PRIMARY KEY (doc_rowid, tag)
      ) WITHOUT ROWID;
      CREATE INDEX ${t.tags}_tag ON ${t.tags} (tag, doc_rowid);
    `);
    return tableNo;
  }
}

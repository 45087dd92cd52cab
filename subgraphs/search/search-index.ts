import type { DocumentChange, DocumentStatus } from '../../server/documents/model.ts';
import type { ReadOptions } from '../../server/read-options.ts';

export type SearchSort = 'RELEVANCE' | 'UPDATED_DESC' | 'UPDATED_ASC';
export type FacetField = 'TAGS' | 'STATUS' | 'AUTHOR';

export interface SearchFilter {
  /** Every one of these tags must be present. */
  tags?: readonly string[];
  /** Any one of these states. */
  status?: readonly DocumentStatus[];
  author?: string;
  updatedAfter?: Date;
  updatedBefore?: Date;
}

/**
 * Where the previous page ended, in the adapter's own sort values (for
 * example `[score, id]`). The search subgraph signs it into an opaque cursor,
 * so an adapter may trust what it gets back.
 */
export type SortKey = readonly (string | number)[];

export interface SearchRequest {
  tenantId: string;
  /** Free text; empty matches every document. */
  text: string;
  filter: SearchFilter;
  sort: SearchSort;
  first: number;
  after?: SortKey;
  /** The paging session of the page `after` came from (`SearchPage.session`), if it had one. */
  session?: string;
  facets: readonly FacetField[];
  /**
   * Whether hits carry highlights. Default false: they cost work per hit, so
   * they are computed only when the client selects them.
   */
  highlights?: boolean;
  /** Whether misspelled words also match their corrections. Default true. */
  typoTolerance?: boolean;
  /**
   * Whether to look for `didYouMean`. Default false: on Elasticsearch it
   * costs a second request, so it is computed only when the client selects it.
   */
  didYouMean?: boolean;
}

export interface Highlight {
  field: string;
  /** HTML-escaped text with matches wrapped in <em>. */
  snippets: string[];
}

export interface SearchHitRecord {
  documentId: string;
  score: number;
  highlights: Highlight[];
  sortKey: SortKey;
}

export interface FacetBucket {
  value: string;
  count: number;
}

export interface SearchPage {
  /** Exact up to `totalLimit`, then capped there. */
  total: number;
  hits: SearchHitRecord[];
  facets: { field: FacetField; buckets: FacetBucket[] }[];
  hasNextPage: boolean;
  /**
   * A view of the index that the next pages are read from, so writes in
   * between neither repeat nor skip hits (on Elasticsearch, a point in time).
   * Opaque; the search subgraph signs it into the cursor with the sort key.
   * Absent when the adapter pages on the live index, or there is no next page.
   */
  session?: string;
  /**
   * The query with each plain word that none of the tenant's documents hold
   * replaced by its closest correction that some do (see did-you-mean.ts);
   * absent when no word was replaced, typo tolerance is off, or it was not asked for.
   */
  didYouMean?: string;
  /** Set by the search cache when the backend was unavailable and this page is the last one it saw. */
  stale?: boolean;
  /** How the search cache served this page; absent when no cache was consulted. */
  cacheStatus?: 'hit' | 'miss' | 'stale';
}

/**
 * The paging session a cursor belongs to has ended (its point in time expired):
 * the client starts again from the first page.
 */
export class PagingSessionExpiredError extends Error {
  override name = 'PagingSessionExpiredError';
  readonly isPagingSessionExpired = true;
}

export function isPagingSessionExpired(error: unknown): error is PagingSessionExpiredError {
  return (error as PagingSessionExpiredError | null)?.isPagingSessionExpired === true;
}

/** Counting every match of a very common term costs more than it tells; past this, totals are a floor. */
export const totalLimit = 10_000;
/** Facets show the most frequent values only. */
export const facetBucketLimit = 10;

/** A change the index refused while applying the others of its batch. */
export interface RejectedChange {
  change: DocumentChange;
  error: string;
  /** True when trying again cannot help (the document itself is refused); false for a passing failure such as a 429. */
  permanent: boolean;
}

export interface ApplyResult {
  rejected: RejectedChange[];
}

/** The search port: the search subgraph and the indexer depend on this, and adapters implement it. */
export interface SearchIndex {
  search(request: SearchRequest, options?: ReadOptions): Promise<SearchPage>;
  /** Distinct titles with a word starting with each word of `prefix`, best first. */
  suggest(tenantId: string, prefix: string, first: number, options?: ReadOptions): Promise<string[]>;
  /**
   * Applies outbox changes idempotently: a change whose version is not newer
   * than what the index holds for that document (including a deleted one)
   * is ignored, so replays and reordering never regress a document.
   * Resolves only once the changes are visible to `search`: callers
   * invalidate cached searches then. A change the index refuses on its own
   * is reported in `rejected` while the rest apply; a failure of the whole
   * call (the backend down) rejects the promise.
   */
  apply(changes: readonly DocumentChange[]): Promise<ApplyResult>;
  close(): Promise<void>;
}

import type { Client, estypes } from '@elastic/elasticsearch';
import type { DocumentChange, TombstonePruning } from '../../../server/documents/model.ts';
import type { ReadOptions } from '../../../server/read-options.ts';
import type { TenantErasure } from '../../../server/tenants/erasure.ts';
import { didYouMeanText } from '../did-you-mean.ts';
import { tokensOf } from '../highlighting.ts';
import { parseQuery } from '../query-parser.ts';
import {
  type ApplyResult,
  PagingSessionExpiredError,
  type SearchIndex,
  type SearchPage,
  type SearchRequest,
} from '../search-index.ts';
import {
  noSynonyms,
  type SynonymLookup,
  type SynonymStore,
  type Synonyms,
  synonymKeysOf,
  synonymLookup,
} from '../synonyms.ts';
import {
  buildCorrectionCountBody,
  buildSearchBody,
  buildSuggestBody,
  candidatesOf,
  correctionsOf,
  countedTerms,
  pageOf,
} from './elasticsearch-query.ts';
import { type ElasticsearchNames, ensureSynonymsIndex } from './elasticsearch-setup.ts';
import { ElasticsearchWrites } from './elasticsearch-writes.ts';

export interface ElasticsearchSearchIndexOptions {
  /** Built by the caller with its request timeout and retry limit. */
  client: Client;
  names: ElasticsearchNames;
  /** How long a paging session's point in time stays open after each page (ELASTICSEARCH_PIT_KEEP_ALIVE_SECONDS). Default 300. */
  pointInTimeKeepAliveSeconds?: number;
}

/** A tenant's document in the synonyms index, its id the tenant id. */
interface SynonymsDocument extends Synonyms {
  tenant_id: string;
  lookup: SynonymLookup;
}

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
 * Queries are built in `elasticsearch-query.ts`; writes, erasure and pruning
 * follow the multi-index protocol in `elasticsearch-writes.ts`.
 */
export class ElasticsearchSearchIndex implements SearchIndex, SynonymStore, TenantErasure, TombstonePruning {
  readonly #client: Client;
  readonly #names: ElasticsearchNames;
  readonly #keepAlive: string;
  readonly #writes: ElasticsearchWrites;

  constructor({ client, names, pointInTimeKeepAliveSeconds = 300 }: ElasticsearchSearchIndexOptions) {
    this.#client = client;
    this.#names = names;
    this.#writes = new ElasticsearchWrites(client, names);
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
    const page = pageOf(request, response);
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

  /**
   * Counts the words as typed and their candidates in the tenant's documents (one request, bounded by
   * the words and `candidatesPerField`), then replaces each word none of them holds by its closest
   * candidate that some do, as the embedded index does with its own vocabulary.
   */
  async #didYouMean(request: SearchRequest, words: string[], suggest: unknown): Promise<string | undefined> {
    const found = candidatesOf(words, suggest);
    if (found.length === 0) return undefined;
    const counts = await this.#client.search(
      buildCorrectionCountBody(request.tenantId, countedTerms(found), this.#names.readAlias),
    );
    const corrections = correctionsOf(found, counts);
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

  /** `apply`, and with `rewriteEqualVersions` the reindex's rewrite: see `ElasticsearchWrites.write`. */
  async write(
    changes: readonly DocumentChange[],
    options: { rewriteEqualVersions: boolean },
  ): Promise<ApplyResult> {
    return this.#writes.write(changes, options);
  }

  async eraseTenant(tenantId: string): Promise<void> {
    return this.#writes.eraseTenant(tenantId);
  }

  async pruneTombstones(deletedBefore: Date, limit: number): Promise<number> {
    return this.#writes.pruneTombstones(deletedBefore, limit);
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
}

import { hash } from 'node:crypto';
import { type Cache, searchGenerationKey, tenantKey } from '../../server/cache/cache.ts';
import { createGenerationBumps } from '../../server/cache/generation-bumps.ts';
import { noOperationalEvents, type OperationalEvents } from '../../server/observability/events.ts';
import type { ReadOptions } from '../../server/read-options.ts';
import { isDependencyUnavailable } from '../../server/resilience/policy.ts';
import type { SearchIndex, SearchPage, SearchRequest } from './search-index.ts';
import type { SynonymStore } from './synonyms.ts';

export interface SearchCacheOptions {
  cache: Cache;
  /** How long a fresh result is served. Default 60 s; a generation bump ends it sooner. */
  ttlSeconds?: number;
  /** How long a result is kept to serve (with `stale: true`) while the backend is down. Default 24 h. */
  staleTtlSeconds?: number;
  /** How often a generation bump that failed (Redis down) is tried again. Default 1000 ms. */
  retryBumpMs?: number;
  events?: OperationalEvents;
}

function requestHash(request: SearchRequest): string {
  const { text, filter, sort, first, after, session, facets, highlights, typoTolerance, didYouMean } =
    request;
  const canonical = JSON.stringify([
    text,
    highlights === true,
    typoTolerance !== false,
    didYouMean === true,
    sort,
    first,
    after ?? null,
    session ?? null,
    [...facets].sort(),
    filter.tags ? [...filter.tags].sort() : null,
    filter.status ? [...filter.status].sort() : null,
    filter.author ?? null,
    filter.updatedAfter?.toISOString() ?? null,
    filter.updatedBefore?.toISOString() ?? null,
  ]);
  return hash('sha256', canonical, 'base64url');
}

/**
 * Caches search pages per tenant and generation, and serves the last known
 * page (marked stale) when the backend is unavailable.
 *
 * Invalidation is a per-tenant generation counter that is part of every key:
 * a bump orphans the old entries, which expire on their own (never `KEYS`).
 * The bump happens in `apply`, that is when the indexer has applied the
 * tenant's changes, not when the write commits: the index is updated
 * asynchronously, so a bump at write time would let a search between the
 * write and the indexing re-cache the pre-write results under the new
 * generation. A search reads the generation before it queries the backend,
 * so a result computed before a bump is stored under the old generation.
 */
export function cachedSearchIndex(index: SearchIndex, options: SearchCacheOptions): SearchIndex {
  const { cache, ttlSeconds = 60, staleTtlSeconds = 86_400, retryBumpMs = 1000 } = options;
  const events = options.events ?? noOperationalEvents;
  // Until a failed bump lands, this tenant's cached searches may be up to `ttlSeconds` old.
  const bumps = createGenerationBumps({ cache, key: searchGenerationKey, retryMs: retryBumpMs });

  async function search(request: SearchRequest, options?: ReadOptions): Promise<SearchPage> {
    const hash = requestHash(request);
    const staleKey = tenantKey(request.tenantId, 'search-stale', hash);
    let freshKey: string | undefined;
    // One outcome per lookup, known only once the backend has answered: a page served stale is not also a miss.
    let outcome: 'miss' | 'error' = 'miss';
    try {
      const generationKey = searchGenerationKey(request.tenantId);
      const generation = (await cache.get(generationKey)) ?? (await cache.readCounter(generationKey));
      freshKey = tenantKey(request.tenantId, 'search', generation, hash);
      const hit = await cache.get(freshKey);
      if (hit !== undefined) {
        events.cacheLookup('search', 'hit');
        return { ...(JSON.parse(hit) as SearchPage), cacheStatus: 'hit' };
      }
    } catch {
      outcome = 'error';
    }

    let page: SearchPage;
    try {
      page = await index.search(request, options);
    } catch (error) {
      const last = isDependencyUnavailable(error)
        ? await cache.get(staleKey).catch(() => undefined)
        : undefined;
      events.cacheLookup('search', last === undefined ? outcome : 'stale');
      if (last === undefined) throw error;
      return { ...(JSON.parse(last) as SearchPage), stale: true, cacheStatus: 'stale' };
    }
    events.cacheLookup('search', outcome);
    const text = JSON.stringify(page);
    if (freshKey) cache.set(freshKey, text, ttlSeconds).catch(() => {});
    cache.set(staleKey, text, staleTtlSeconds).catch(() => {});
    return { ...page, cacheStatus: 'miss' };
  }

  return {
    search,
    suggest: (tenantId, prefix, first, options) => index.suggest(tenantId, prefix, first, options),
    async apply(changes) {
      const result = await index.apply(changes);
      await bumps.bump(new Set(changes.map((change) => change.tenantId)));
      return result;
    },
    async close() {
      bumps.stop();
      await index.close();
    },
  };
}

/**
 * Synonyms change what every search of the tenant finds, so replacing them
 * bumps the tenant's search generation, as applying changes does: pages
 * cached here and responses cached by the gateway (which hold the search
 * generation they were computed under) stop being served at once.
 */
export function searchCacheBumpingSynonyms(
  store: SynonymStore,
  options: Pick<SearchCacheOptions, 'cache' | 'retryBumpMs'>,
): SynonymStore & { stop(): void } {
  const bumps = createGenerationBumps({
    cache: options.cache,
    key: searchGenerationKey,
    retryMs: options.retryBumpMs ?? 1000,
  });
  return {
    synonyms: (tenantId) => store.synonyms(tenantId),
    async replaceSynonyms(tenantId, synonyms) {
      await store.replaceSynonyms(tenantId, synonyms);
      await bumps.bump([tenantId]);
    },
    stop: () => bumps.stop(),
  };
}

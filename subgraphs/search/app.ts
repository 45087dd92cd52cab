import { randomBytes } from 'node:crypto';
import { createServiceVerifier } from '../../server/auth/cached-verifier.ts';
import { identityProviderHealth } from '../../server/auth/identity-provider-health.ts';
import type { JwtVerifier } from '../../server/auth/jwt-verifier.ts';
import { type Cache, openCache } from '../../server/cache/index.ts';
import type { SearchConfig } from '../../server/config.ts';
import { breakerHealth, redisHealth } from '../../server/http/health.ts';
import { serverTlsFrom } from '../../server/http/tls.ts';
import type { Logger } from '../../server/logger.ts';
import type { OperationalEvents } from '../../server/observability/events.ts';
import { instrumentPort } from '../../server/observability/instrument-port.ts';
import { createMetrics, type ServiceMetrics } from '../../server/observability/metrics.ts';
import { createTenantBulkheads, resilienceFromConfig } from '../../server/resilience/index.ts';
import { namingPortVariable } from '../../server/startup-error.ts';
import { openSearchIndex } from './adapters/index.ts';
import { bulkheadedSearchIndex } from './bulkheaded-search-index.ts';
import { cachedSearchIndex, searchCacheBumpingSynonyms } from './cached-search-index.ts';
import { resilientSearchIndex, resilientSynonymStore } from './resilient-search-index.ts';
import type { SearchIndex } from './search-index.ts';
import { startSearchService } from './service.ts';

export interface SearchAppOptions {
  config: SearchConfig;
  logger: Logger;
  verifier?: JwtVerifier;
  /** Wraps the backend adapter (under the cache and the breaker), for instance to count calls or inject faults. */
  decorateIndex?: (index: SearchIndex) => SearchIndex;
  /** Default: a fresh registry configured from `config.metrics`. */
  metrics?: ServiceMetrics;
  /** The in-process cache to use without REDIS_URL; the one-process stack shares one across services. */
  memoryCache?: Cache;
  /** Where caches, breakers and retries report; default this service's metrics. */
  events?: OperationalEvents;
}

export interface SearchApp {
  url: string;
  index: SearchIndex;
  metrics: ServiceMetrics;
  stop(): Promise<void>;
}

/**
 * The search service wired from configuration: the one place its
 * dependencies are built. Layers, outermost first: cache (fresh hits, and
 * stale pages when the backend fails), the tenant's bulkhead (outside the
 * breaker, so a tenant's refusals never count against it; a cache hit takes
 * no slot), resilience, spans, then the backend.
 */
export async function startSearchApp({
  config,
  logger,
  verifier,
  decorateIndex,
  metrics = createMetrics({ service: 'search', ...config.metrics }),
  memoryCache,
  events = metrics.events,
}: SearchAppOptions): Promise<SearchApp> {
  const resilience = resilienceFromConfig(config, events);
  const cache = openCache(config.cache, resilience, logger, memoryCache);
  const backend = await openSearchIndex(config, 'reads', events);
  const adapter = instrumentPort(decorateIndex ? decorateIndex(backend.index) : backend.index, {
    dependency: 'search-index',
  });
  const bulkheads = createTenantBulkheads({ dependency: 'search-index', ...config.search.tenantBulkhead });
  const guarded = resilientSearchIndex(adapter, resilience.policy('search-index'));
  const index = cachedSearchIndex(bulkheadedSearchIndex(guarded, bulkheads), {
    cache: cache.cache,
    ttlSeconds: config.cache.searchTtlSeconds,
    staleTtlSeconds: config.cache.staleTtlSeconds,
    events,
  });
  // Beside the searches rather than under `decorateIndex`: a decorated index need not implement them.
  const synonyms = searchCacheBumpingSynonyms(
    resilientSynonymStore(
      instrumentPort(backend.index, { dependency: 'search-index' }),
      resilience.policy('search-index'),
    ),
    { cache: cache.cache },
  );
  const authenticator = verifier ?? (await createServiceVerifier(config.jwt, logger));
  const service = await namingPortVariable(
    'SEARCH_PORT',
    startSearchService({
      index,
      synonyms,
      // Configuration requires CURSOR_SECRET in production; a development process may sign with its own.
      cursorSecret: config.search.cursorSecret ?? randomBytes(32).toString('hex'),
      limits: { maxFirst: config.search.maxFirst },
      verifier: authenticator,
      logger,
      production: config.production,
      port: config.search.port,
      host: config.host,
      operations: config.metrics.listener,
      metrics,
      tls: serverTlsFrom(config, true),
      health: {
        // Not required: with the index down, cached pages are still served (stale).
        'search-index': breakerHealth(resilience, 'search-index', false),
        redis: redisHealth(resilience, cache),
        identityProvider: identityProviderHealth(authenticator),
      },
    }),
  );
  return {
    url: service.url,
    index,
    metrics,
    async stop() {
      await service.stop();
      synonyms.stop();
      await index.close();
      await backend.close();
      await cache.close();
    },
  };
}

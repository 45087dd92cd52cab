import { randomBytes } from 'node:crypto';
import { createJwtVerifier, type JwtVerifier } from '../../server/auth/jwt-verifier.ts';
import { type Cache, openCache } from '../../server/cache/index.ts';
import type { QuarryConfig } from '../../server/config.ts';
import { breakerHealth, healthRoutes, redisHealth } from '../../server/http/health.ts';
import type { RouteHandler } from '../../server/http/http-server.ts';
import { startRouteServer } from '../../server/http/route-server.ts';
import type { Logger } from '../../server/logger.ts';
import { noOperationalEvents, type OperationalEvents } from '../../server/observability/events.ts';
import { resilienceFromConfig } from '../../server/resilience/index.ts';
import { openDocumentStore } from '../documents/adapters/index.ts';
import { resilientDocumentStore } from '../documents/resilient-document-store.ts';
import { openSearchIndex } from './adapters/index.ts';
import { cachedSearchIndex } from './cached-search-index.ts';
import { type Indexer, startIndexer } from './indexer.ts';
import { resilientSearchIndex } from './resilient-search-index.ts';
import type { SearchIndex } from './search-index.ts';
import { startSearchService } from './service.ts';

export interface SearchAppOptions {
  config: QuarryConfig;
  logger: Logger;
  verifier?: JwtVerifier;
  /** Wraps the backend adapter (under the cache and the breaker), for instance to count calls or inject faults. */
  decorateIndex?: (index: SearchIndex) => SearchIndex;
  /** The in-process cache to use without REDIS_URL; the one-process stack shares one across services. */
  memoryCache?: Cache;
  events?: OperationalEvents;
}

export interface SearchApp {
  url: string;
  index: SearchIndex;
  stop(): Promise<void>;
}

/**
 * The search service wired from configuration: the one place its
 * dependencies are built. Layers, outermost first: cache (fresh hits, and
 * stale pages when the backend fails), resilience, then the backend adapter.
 */
export async function startSearchApp({
  config,
  logger,
  verifier,
  decorateIndex,
  memoryCache,
  events = noOperationalEvents,
}: SearchAppOptions): Promise<SearchApp> {
  const resilience = resilienceFromConfig(config, events);
  const cache = openCache(config.cache, resilience, logger, memoryCache);
  const backend = openSearchIndex(config);
  const adapter = decorateIndex ? decorateIndex(backend.index) : backend.index;
  const index = cachedSearchIndex(resilientSearchIndex(adapter, resilience.policy('search-index')), {
    cache: cache.cache,
    ttlSeconds: config.cache.searchTtlSeconds,
    staleTtlSeconds: config.cache.staleTtlSeconds,
    events,
  });
  const service = await startSearchService({
    index,
    // Configuration requires CURSOR_SECRET in production; a development process may sign with its own.
    cursorSecret: config.search.cursorSecret ?? randomBytes(32).toString('hex'),
    limits: { maxFirst: config.search.maxFirst },
    verifier: verifier ?? (await createJwtVerifier(config.jwt)),
    logger,
    production: config.production,
    port: config.search.port,
    host: config.host,
    health: {
      // Not required: with the index down, cached pages are still served (stale).
      'search-index': breakerHealth(resilience, 'search-index', false),
      redis: redisHealth(resilience, cache.redis),
    },
  });
  return {
    url: service.url,
    index,
    async stop() {
      await service.stop();
      await index.close();
      await backend.close();
      await cache.close();
    },
  };
}

export interface IndexerAppOptions {
  config: QuarryConfig;
  logger: Logger;
  /** Extra GET routes beside the health routes, such as `/metrics`. */
  routes?: Record<string, RouteHandler>;
  /** The in-process cache to use without REDIS_URL; it must be the search service's for bumps to reach it. */
  memoryCache?: Cache;
  events?: OperationalEvents;
}

export interface IndexerApp {
  indexer: Indexer;
  /** Where the health routes are served (INDEXER_PORT). */
  url: string;
  stop(): Promise<void>;
}

/**
 * The indexer wired from configuration: the documents outbox in, the search
 * index out. Its index is wrapped in the search cache so that applying a
 * tenant's changes bumps that tenant's search generation.
 */
export async function startIndexerApp({
  config,
  logger,
  routes = {},
  memoryCache,
  events = noOperationalEvents,
}: IndexerAppOptions): Promise<IndexerApp> {
  const resilience = resilienceFromConfig(config, events);
  const cache = openCache(config.cache, resilience, logger, memoryCache);
  const documents = openDocumentStore(config);
  const search = openSearchIndex(config);
  const index = cachedSearchIndex(resilientSearchIndex(search.index, resilience.policy('search-index')), {
    cache: cache.cache,
    ttlSeconds: config.cache.searchTtlSeconds,
    staleTtlSeconds: config.cache.staleTtlSeconds,
    events,
  });
  const indexer = startIndexer({
    feed: resilientDocumentStore(documents.store, resilience.policy('documents-store')),
    index,
    logger,
    pollIntervalMs: config.indexer.pollIntervalMs,
    batchSize: config.indexer.batchSize,
  });
  const server = await startRouteServer({
    routes: {
      ...routes,
      // The indexer can do nothing without either side; Redis only carries its cache invalidations.
      ...healthRoutes({
        'documents-store': breakerHealth(resilience, 'documents-store', true),
        'search-index': breakerHealth(resilience, 'search-index', true),
        redis: redisHealth(resilience, cache.redis),
      }),
    },
    port: config.indexer.port,
    host: config.host,
    logger,
  });
  return {
    indexer,
    url: server.url,
    async stop() {
      await server.close(1000);
      await indexer.stop();
      await index.close();
      await search.close();
      await documents.close();
      await cache.close();
    },
  };
}

import { createJwtVerifier, type JwtVerifier } from '../../server/auth/jwt-verifier.ts';
import { type Cache, openCache } from '../../server/cache/index.ts';
import type { QuarryConfig } from '../../server/config.ts';
import { breakerHealth, redisHealth } from '../../server/http/health.ts';
import type { Logger } from '../../server/logger.ts';
import { noOperationalEvents, type OperationalEvents } from '../../server/observability/events.ts';
import { resilienceFromConfig } from '../../server/resilience/index.ts';
import { openDocumentStore } from './adapters/index.ts';
import { cachedDocumentStore } from './cached-document-store.ts';
import type { DocumentStore } from './document-store.ts';
import { resilientDocumentStore } from './resilient-document-store.ts';
import { startDocumentsService } from './service.ts';

export interface DocumentsAppOptions {
  config: QuarryConfig;
  logger: Logger;
  verifier?: JwtVerifier;
  /** Wraps the backend adapter (under the cache and the breaker), for instance to count calls or inject faults. */
  decorateStore?: (store: DocumentStore) => DocumentStore;
  /** The in-process cache to use without REDIS_URL; the one-process stack shares one across services. */
  memoryCache?: Cache;
  events?: OperationalEvents;
}

export interface DocumentsApp {
  url: string;
  store: DocumentStore;
  stop(): Promise<void>;
}

/**
 * The documents service wired from configuration: the one place its
 * dependencies are built. Layers, outermost first: cache (answers hits
 * without the backend), resilience (timeout inside a breaker, retries for
 * reads), then the backend adapter.
 */
export async function startDocumentsApp({
  config,
  logger,
  verifier,
  decorateStore,
  memoryCache,
  events = noOperationalEvents,
}: DocumentsAppOptions): Promise<DocumentsApp> {
  const resilience = resilienceFromConfig(config, events);
  const cache = openCache(config.cache, resilience, logger, memoryCache);
  const backend = openDocumentStore(config);
  const adapter = decorateStore ? decorateStore(backend.store) : backend.store;
  const store = cachedDocumentStore(resilientDocumentStore(adapter, resilience.policy('documents-store')), {
    cache: cache.cache,
    ttlSeconds: config.cache.documentTtlSeconds,
    events,
  });
  const service = await startDocumentsService({
    store,
    verifier: verifier ?? (await createJwtVerifier(config.jwt)),
    logger,
    production: config.production,
    port: config.documents.port,
    host: config.host,
    health: {
      'documents-store': breakerHealth(resilience, 'documents-store', true),
      redis: redisHealth(resilience, cache.redis),
    },
  });
  return {
    url: service.url,
    store,
    async stop() {
      await service.stop();
      await backend.close();
      await cache.close();
    },
  };
}

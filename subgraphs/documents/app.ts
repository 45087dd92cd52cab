import { createServiceVerifier } from '../../server/auth/cached-verifier.ts';
import { identityProviderHealth } from '../../server/auth/identity-provider-health.ts';
import type { JwtVerifier } from '../../server/auth/jwt-verifier.ts';
import { type Cache, openCache } from '../../server/cache/index.ts';
import type { QuarryConfig } from '../../server/config.ts';
import { breakerHealth, redisHealth } from '../../server/http/health.ts';
import { serverTlsFrom } from '../../server/http/tls.ts';
import type { Logger } from '../../server/logger.ts';
import type { OperationalEvents } from '../../server/observability/events.ts';
import { instrumentPort } from '../../server/observability/instrument-port.ts';
import { createMetrics, type ServiceMetrics } from '../../server/observability/metrics.ts';
import { createTenantBulkheads, resilienceFromConfig } from '../../server/resilience/index.ts';
import { namingPortVariable } from '../../server/startup-error.ts';
import { createErasureJobs, type ErasureJobs, eraseTenant } from '../../server/tenants/erasure.ts';
import { openSearchIndex } from '../search/adapters/index.ts';
import { openDocumentStore } from './adapters/index.ts';
import { bulkheadedDocumentStore } from './bulkheaded-document-store.ts';
import { cachedDocumentStore } from './cached-document-store.ts';
import type { DocumentStore } from './document-store.ts';
import { documentStoreDependencies, resilientDocumentStore } from './resilient-document-store.ts';
import { startDocumentsService } from './service.ts';

export interface DocumentsAppOptions {
  config: QuarryConfig;
  logger: Logger;
  verifier?: JwtVerifier;
  /** Wraps the backend adapter (under the cache and the breaker), for instance to count calls or inject faults. */
  decorateStore?: (store: DocumentStore) => DocumentStore;
  /** Default: a fresh registry configured from `config.metrics`. */
  metrics?: ServiceMetrics;
  /** The in-process cache to use without REDIS_URL; the one-process stack shares one across services. */
  memoryCache?: Cache;
  /** Where caches, breakers and retries report; default this service's metrics. */
  events?: OperationalEvents;
}

export interface DocumentsApp {
  url: string;
  /** Where `/metrics` and the health routes are served apart from clients, when METRICS_PORT is set. */
  operationsUrl?: string;
  store: DocumentStore;
  erasures: ErasureJobs;
  metrics: ServiceMetrics;
  stop(): Promise<void>;
}

/**
 * The documents service wired from configuration: the one place its
 * dependencies are built. Layers, outermost first: cache (answers hits
 * without the backend), the tenant's bulkhead (outside the breakers, so a
 * tenant's refusals never count against them), resilience (timeout inside a
 * breaker, retries for reads), then the backend adapter.
 */
export async function startDocumentsApp({
  config,
  logger,
  verifier,
  decorateStore,
  metrics = createMetrics({ service: 'documents', ...config.metrics }),
  memoryCache,
  events = metrics.events,
}: DocumentsAppOptions): Promise<DocumentsApp> {
  const resilience = resilienceFromConfig(config, events);
  const cache = openCache(config.cache, resilience, logger, memoryCache);
  const backend = await openDocumentStore(config);
  // Innermost, the backend itself: its span and latency are one real call, each retry its own.
  const adapter = instrumentPort(decorateStore ? decorateStore(backend.store) : backend.store, {
    dependency: 'documents-store',
  });
  const policies = {
    reads: resilience.policy(documentStoreDependencies.reads),
    writes: resilience.policy(documentStoreDependencies.writes),
  };
  const bulkheads = createTenantBulkheads({
    dependency: documentStoreDependencies.reads,
    ...config.documents.tenantBulkhead,
  });
  const store = cachedDocumentStore(
    bulkheadedDocumentStore(resilientDocumentStore(adapter, policies), bulkheads),
    {
      cache: cache.cache,
      ttlSeconds: config.cache.documentTtlSeconds,
      events,
    },
  );
  metrics.trackTenantUsage((tenantId) => store.usage(tenantId));
  const authenticator = verifier ?? (await createServiceVerifier(config.jwt, logger));
  // The search index is opened only for an erasure, so the documents service never depends on it otherwise.
  const erasures = createErasureJobs(async (tenantId, requestedBy) => {
    const search = await openSearchIndex(config, 'writes');
    try {
      await eraseTenant({
        tenantId,
        requestedBy,
        documents: backend.store,
        search: search.index,
        redis: cache.redis,
        logger,
        settleMs: config.indexer.pollIntervalMs + config.resilience.timeoutMs('search-index'),
      });
    } finally {
      await search.close();
    }
  }, logger);
  const service = await namingPortVariable(
    'DOCUMENTS_PORT',
    startDocumentsService({
      store,
      tenants: {
        quotas: config.documents.quotas,
        erasures,
        idempotencyRetentionMs: config.documents.idempotencyRetentionMs,
      },
      verifier: authenticator,
      logger,
      production: config.production,
      port: config.documents.port,
      host: config.host,
      operations: config.metrics.listener,
      metrics,
      tls: serverTlsFrom(config, true),
      health: {
        // The trial reads the outbox's head: one small query, answered by the backend only when it is up.
        'documents-store': breakerHealth(resilience, documentStoreDependencies.reads, true, () =>
          adapter.oldestPendingAt(),
        ),
        // Not required: a store that cannot write still serves reads, so the pod stays in rotation.
        'documents-store-writes': breakerHealth(resilience, documentStoreDependencies.writes, false),
        redis: redisHealth(resilience, cache),
        identityProvider: identityProviderHealth(authenticator),
      },
    }),
  );
  return {
    url: service.url,
    operationsUrl: service.operationsUrl,
    store,
    erasures,
    metrics,
    async stop() {
      await service.stop();
      await erasures.settled();
      await backend.close();
      await cache.close();
    },
  };
}

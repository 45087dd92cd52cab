import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { type Cache, openCache } from '../server/cache/index.ts';
import type { IndexerConfig } from '../server/config.ts';
import { breakerHealth, healthRoutes, redisHealth } from '../server/http/health.ts';
import type { RouteHandler } from '../server/http/http-server.ts';
import { startRouteServer } from '../server/http/route-server.ts';
import type { Logger } from '../server/logger.ts';
import type { OperationalEvents } from '../server/observability/events.ts';
import { instrumentPort } from '../server/observability/instrument-port.ts';
import { createMetrics, type ServiceMetrics } from '../server/observability/metrics.ts';
import { resilienceFromConfig } from '../server/resilience/index.ts';
import { namingPortVariable } from '../server/startup-error.ts';
import { openDocumentStore } from '../subgraphs/documents/adapters/index.ts';
import {
  documentStoreDependencies,
  resilientDocumentStore,
} from '../subgraphs/documents/resilient-document-store.ts';
import { openSearchIndex } from '../subgraphs/search/adapters/index.ts';
import { cachedSearchIndex } from '../subgraphs/search/cached-search-index.ts';
import { resilientSearchIndex } from '../subgraphs/search/resilient-search-index.ts';
import type { SearchIndex } from '../subgraphs/search/search-index.ts';
import { openPartitionLeases } from './adapters/partition-leases.ts';
import { type Indexer, startIndexer } from './indexer.ts';
import { type PartitionClaimEvents, type PartitionClaims, startPartitionClaims } from './partition-claims.ts';
import { startTombstonePruner } from './tombstone-pruner.ts';

export interface IndexerAppOptions {
  config: IndexerConfig;
  logger: Logger;
  /** Extra GET routes beside the health and metrics routes. */
  routes?: Record<string, RouteHandler>;
  /** Wraps the backend adapter it writes (under the cache and the breaker), for instance to delay visibility. */
  decorateIndex?: (index: SearchIndex) => SearchIndex;
  /** Default: a fresh registry configured from `config.metrics`. */
  metrics?: ServiceMetrics;
  /** The in-process cache to use without REDIS_URL; it must be the search service's for bumps to reach it. */
  memoryCache?: Cache;
  /** Where caches, breakers and retries report; default this process's metrics. */
  events?: OperationalEvents;
}

export interface IndexerApp {
  indexer: Indexer;
  /** The outbox partitions this indexer holds. */
  claims: PartitionClaims;
  metrics: ServiceMetrics;
  /** Where the indexer serves `/metrics` and the health routes (INDEXER_PORT). */
  url: string;
  stop(): Promise<void>;
}

/**
 * The indexer wired from configuration: the documents outbox in, the search
 * index out. Its index is wrapped in the search cache so that applying a
 * tenant's changes bumps that tenant's search generation. It has no GraphQL,
 * only an HTTP server for `/metrics` (the indexer lag lives here) and health.
 */
export async function startIndexerApp({
  config,
  logger,
  routes = {},
  decorateIndex,
  metrics = createMetrics({ service: 'indexer', ...config.metrics }),
  memoryCache,
  events = metrics.events,
}: IndexerAppOptions): Promise<IndexerApp> {
  const resilience = resilienceFromConfig(config, events);
  const cache = openCache(config.cache, resilience, logger, memoryCache);
  const documents = await openDocumentStore(config);
  const search = await openSearchIndex(config, 'writes').catch(async (error: unknown) => {
    await documents.close();
    throw error;
  });
  // Under the store's policy, so a scrape waits no longer than its timeouts and retries, and not at all while
  // its breaker is open.
  const storePolicy = resilience.policy('documents-store');
  metrics.trackIndexerLag(() =>
    storePolicy.run(() => documents.store.oldestPendingAt(), {
      idempotent: true,
      operation: 'oldestPendingAt',
    }),
  );
  const indexerEvents = metrics.trackIndexer(() =>
    storePolicy.run(() => documents.store.countDeadLetters(), {
      idempotent: true,
      operation: 'countDeadLetters',
    }),
  );
  // A poll every 100 ms with no request behind it would fill the trace store with one-span traces.
  const feed = instrumentPort(documents.store, {
    dependency: 'documents-store',
    untraced: ['pull', 'oldestPendingAt'],
  });
  const index = cachedSearchIndex(
    resilientSearchIndex(
      instrumentPort(decorateIndex ? decorateIndex(search.index) : search.index, {
        dependency: 'search-index',
      }),
      resilience.policy('search-index'),
    ),
    {
      cache: cache.cache,
      ttlSeconds: config.cache.searchTtlSeconds,
      staleTtlSeconds: config.cache.staleTtlSeconds,
      events,
    },
  );
  const progress = metrics.indexerProgress();
  const { claims, closeLeases } = await claimPartitions(config, logger, progress).catch(
    async (error: unknown) => {
      await search.close();
      await documents.close();
      throw error;
    },
  );
  const indexer = startIndexer({
    feed: resilientDocumentStore(feed, {
      reads: resilience.policy(documentStoreDependencies.reads),
      writes: resilience.policy(documentStoreDependencies.writes),
    }),
    index,
    logger,
    deadLetters: feed,
    events: indexerEvents,
    maxAttempts: config.indexer.maxAttempts,
    tombstoneRetentionMs: config.tombstones.retentionMs,
    pollIntervalMs: config.indexer.pollIntervalMs,
    batchSize: config.indexer.batchSize,
    claims,
    onApplied: progress.applied,
  });
  // The raw adapters: pruning is the indexer's own background work, not a client's call behind a breaker.
  const pruner = startTombstonePruner({
    store: documents.store,
    index: search.index,
    retentionMs: config.tombstones.retentionMs,
    intervalMs: config.tombstones.pruneIntervalMs,
    batchSize: config.tombstones.pruneBatchSize,
    logger,
    events: indexerEvents,
  });
  const stopIndexing = async () => {
    await pruner.stop();
    await indexer.stop();
    // Released only now, after the last batch, so no other indexer starts on a partition this one still applies.
    await claims.stop();
    await closeLeases();
    await index.close();
    await search.close();
    await documents.close();
    await cache.close();
  };
  const server = await namingPortVariable(
    'INDEXER_PORT',
    startRouteServer({
      routes: {
        ...routes,
        ...metrics.routes(),
        // The indexer can do nothing without either side; Redis only carries its cache invalidations.
        ...healthRoutes({
          'documents-store': breakerHealth(resilience, documentStoreDependencies.reads, true),
          // The indexer cannot move on without acknowledging what it applied.
          'documents-store-writes': breakerHealth(resilience, documentStoreDependencies.writes, true),
          'search-index': breakerHealth(resilience, 'search-index', true),
          redis: redisHealth(resilience, cache),
        }),
      },
      port: config.indexer.port,
      host: config.host,
      logger,
    }),
  ).catch(async (error: unknown) => {
    // Without its server (INDEXER_PORT in use) the indexer must not keep polling in the background.
    await stopIndexing();
    throw error;
  });
  return {
    indexer,
    claims,
    metrics,
    url: server.url,
    async stop() {
      await server.close(1000);
      await stopIndexing();
    },
  };
}

/**
 * This process's claim on the outbox partitions, under a name unique to it. A standby (no partition) is
 * still ready: it takes partitions over when another indexer stops.
 */
async function claimPartitions(
  config: IndexerConfig,
  logger: Logger,
  events: PartitionClaimEvents,
): Promise<{ claims: PartitionClaims; closeLeases(): Promise<void> }> {
  const opened = await openPartitionLeases(config);
  const holder = `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
  logger.info({ holder, partitions: config.indexer.partitions }, 'claiming outbox partitions');
  const claims = await startPartitionClaims({
    leases: opened.leases,
    holder,
    count: config.indexer.partitions,
    leaseMs: config.indexer.leaseMs,
    logger,
    events,
  });
  return { claims, closeLeases: opened.close };
}

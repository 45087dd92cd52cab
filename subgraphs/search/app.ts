import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { createJwtVerifier, type JwtVerifier } from '../../server/auth/jwt-verifier.ts';
import type { QuarryConfig } from '../../server/config.ts';
import { healthRoutes } from '../../server/http/health.ts';
import { type ListeningServer, listen, sendJson } from '../../server/http/http-server.ts';
import { serverTlsFrom } from '../../server/http/tls.ts';
import type { Logger } from '../../server/logger.ts';
import { instrumentPort } from '../../server/observability/instrument-port.ts';
import { createMetrics, type ServiceMetrics } from '../../server/observability/metrics.ts';
import { openDocumentStore } from '../documents/adapters/index.ts';
import { openSearchIndex } from './adapters/index.ts';
import { type Indexer, startIndexer } from './indexer.ts';
import type { SearchIndex } from './search-index.ts';
import { startSearchService } from './service.ts';

export interface SearchAppOptions {
  config: QuarryConfig;
  logger: Logger;
  verifier?: JwtVerifier;
  /** Wraps the configured index, for instance to count backend calls in a test. */
  decorateIndex?: (index: SearchIndex) => SearchIndex;
  /** Default: a fresh registry configured from `config.metrics`. */
  metrics?: ServiceMetrics;
}

export interface SearchApp {
  url: string;
  index: SearchIndex;
  metrics: ServiceMetrics;
  stop(): Promise<void>;
}

/** The search service wired from configuration: the one place its dependencies are built. */
export async function startSearchApp({
  config,
  logger,
  verifier,
  decorateIndex,
  metrics = createMetrics({ service: 'search', ...config.metrics }),
}: SearchAppOptions): Promise<SearchApp> {
  const backend = await openSearchIndex(config);
  const index = instrumentPort(decorateIndex ? decorateIndex(backend.index) : backend.index, {
    dependency: 'search-index',
    events: metrics.events,
  });
  const service = await startSearchService({
    index,
    // Configuration requires CURSOR_SECRET in production; a development process may sign with its own.
    cursorSecret: config.search.cursorSecret ?? randomBytes(32).toString('hex'),
    limits: { maxFirst: config.search.maxFirst },
    verifier: verifier ?? (await createJwtVerifier(config.jwt, { logger })),
    logger,
    production: config.production,
    port: config.search.port,
    host: config.host,
    metrics,
    tls: serverTlsFrom(config, true),
  });
  return {
    url: service.url,
    index,
    metrics,
    async stop() {
      await service.stop();
      await backend.close();
    },
  };
}

export interface IndexerApp {
  indexer: Indexer;
  metrics: ServiceMetrics;
  /** Where the indexer serves `/metrics` and `/health/live`. */
  url: string;
  stop(): Promise<void>;
}

/**
 * A minimal HTTP server for the indexer, which has no GraphQL: `/metrics` for
 * Prometheus (the indexer lag lives here) and `/health/live`.
 */
async function startIndexerHttp(
  metrics: ServiceMetrics,
  port: number,
  host: string,
  logger: Logger,
): Promise<ListeningServer> {
  const routes = { ...healthRoutes(), ...metrics.routes() };
  const server = createServer((request, response) => {
    const route = routes[new URL(request.url ?? '/', 'http://localhost').pathname];
    if (!route || request.method !== 'GET') return sendJson(response, 404, { error: 'not found' });
    Promise.resolve(route(request, response)).catch((error: unknown) => {
      logger.error({ err: error }, 'indexer HTTP route failed');
      if (!response.headersSent) sendJson(response, 500, { error: 'internal error' });
    });
  });
  return listen(server, port, host, '/metrics');
}

/** The indexer wired from configuration: the documents outbox in, the search index out. */
export async function startIndexerApp({
  config,
  logger,
  metrics = createMetrics({ service: 'indexer', ...config.metrics }),
}: {
  config: QuarryConfig;
  logger: Logger;
  metrics?: ServiceMetrics;
}): Promise<IndexerApp> {
  const documents = await openDocumentStore(config);
  const search = await openSearchIndex(config).catch(async (error: unknown) => {
    await documents.close();
    throw error;
  });
  metrics.trackIndexerLag(() => documents.store.oldestPendingAt());
  const indexer = startIndexer({
    feed: instrumentPort(documents.store, {
      dependency: 'documents-outbox',
      events: metrics.events,
      untraced: ['pull', 'oldestPendingAt'],
    }),
    index: instrumentPort(search.index, { dependency: 'search-index', events: metrics.events }),
    logger,
    pollIntervalMs: config.indexer.pollIntervalMs,
    batchSize: config.indexer.batchSize,
  });
  const http = await startIndexerHttp(metrics, config.indexer.port, config.host, logger);
  return {
    indexer,
    metrics,
    url: http.url,
    async stop() {
      await http.close();
      await indexer.stop();
      await search.close();
      await documents.close();
    },
  };
}

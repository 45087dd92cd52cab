import { startGateway } from '../gateway/server.ts';
import { createJwtVerifier } from '../server/auth/jwt-verifier.ts';
import type { QuarryConfig } from '../server/config.ts';
import { serverTlsFrom, subgraphClientTlsFrom } from '../server/http/tls.ts';
import type { Logger } from '../server/logger.ts';
import { createMetrics } from '../server/observability/metrics.ts';
import { startDocumentsApp } from '../subgraphs/documents/app.ts';
import type { DocumentStore } from '../subgraphs/documents/document-store.ts';
import { startIndexerApp, startSearchApp } from '../subgraphs/search/app.ts';
import type { Indexer } from '../subgraphs/search/indexer.ts';
import type { SearchIndex } from '../subgraphs/search/search-index.ts';

export interface StackOptions {
  config: QuarryConfig;
  logger: Logger;
  /** Wraps the configured store, for instance to count backend calls in a test. */
  decorateStore?: (store: DocumentStore) => DocumentStore;
  decorateIndex?: (index: SearchIndex) => SearchIndex;
}

export interface RunningStack {
  gatewayUrl: string;
  documentsUrl: string;
  searchUrl: string;
  /** Where the indexer serves `/metrics`. */
  indexerUrl: string;
  store: DocumentStore;
  index: SearchIndex;
  indexer: Indexer;
  stop(): Promise<void>;
}

/**
 * Gateway, both subgraphs and the indexer in one process: what `npm start`
 * runs for development, and what the end-to-end tests run on port 0. In
 * production each runs as its own process (see the `main.ts` files), wired
 * by the same `start*App` functions.
 */
export async function startStack({
  config,
  logger,
  decorateStore,
  decorateIndex,
}: StackOptions): Promise<RunningStack> {
  const verifier = await createJwtVerifier(config.jwt, { logger: logger.child({ service: 'auth' }) });
  const documents = await startDocumentsApp({
    config,
    logger: logger.child({ service: 'documents' }),
    verifier,
    decorateStore,
  });
  const search = await startSearchApp({
    config,
    logger: logger.child({ service: 'search' }),
    verifier,
    decorateIndex,
  });
  const indexer = await startIndexerApp({ config, logger: logger.child({ service: 'indexer' }) });
  const gateway = await startGateway({
    ...config.gateway,
    verifier,
    production: config.production,
    host: config.host,
    // Port 0 (tests) means the subgraphs' real ports are only known now.
    subgraphUrls: { documents: documents.url, search: search.url },
    tls: serverTlsFrom(config),
    subgraphClientTls: subgraphClientTlsFrom(config),
    logger: logger.child({ service: 'gateway' }),
    metrics: createMetrics({ service: 'gateway', ...config.metrics }),
  });

  return {
    gatewayUrl: gateway.url,
    documentsUrl: documents.url,
    searchUrl: search.url,
    indexerUrl: indexer.url,
    store: documents.store,
    index: search.index,
    indexer: indexer.indexer,
    async stop() {
      await gateway.stop();
      await Promise.all([documents.stop(), search.stop()]);
      await indexer.stop();
    },
  };
}

import { randomBytes } from 'node:crypto';
import { startGateway } from '../gateway/server.ts';
import { createJwtVerifier, type JwtVerifier } from '../server/auth/jwt-verifier.ts';
import type { QuarryConfig } from '../server/config.ts';
import type { Logger } from '../server/logger.ts';
import { openDocumentStore } from '../subgraphs/documents/adapters/index.ts';
import type { DocumentStore } from '../subgraphs/documents/document-store.ts';
import { startDocumentsService } from '../subgraphs/documents/service.ts';
import { openSearchIndex } from '../subgraphs/search/adapters/index.ts';
import { type Indexer, startIndexer } from '../subgraphs/search/indexer.ts';
import type { SearchIndex } from '../subgraphs/search/search-index.ts';
import { startSearchService } from '../subgraphs/search/service.ts';

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
  store: DocumentStore;
  index: SearchIndex;
  indexer: Indexer;
  stop(): Promise<void>;
}

/**
 * Gateway, both subgraphs and the indexer in one process: what `npm start`
 * runs for development, and what the end-to-end tests run on port 0. In
 * production each runs as its own process (see the `main.ts` files).
 */
export async function startStack({
  config,
  logger,
  decorateStore,
  decorateIndex,
}: StackOptions): Promise<RunningStack> {
  const verifier: JwtVerifier = await createJwtVerifier(config.jwt);
  const documentsBackend = openDocumentStore(config);
  const searchBackend = openSearchIndex(config);
  const store = decorateStore ? decorateStore(documentsBackend.store) : documentsBackend.store;
  const index = decorateIndex ? decorateIndex(searchBackend.index) : searchBackend.index;
  const common = { verifier, production: config.production, host: config.host };

  const documents = await startDocumentsService({
    ...common,
    store,
    logger: logger.child({ service: 'documents' }),
    port: config.documents.port,
  });
  const search = await startSearchService({
    ...common,
    index,
    cursorSecret: config.search.cursorSecret ?? randomBytes(32).toString('hex'),
    limits: { maxFirst: config.search.maxFirst },
    logger: logger.child({ service: 'search' }),
    port: config.search.port,
  });
  const indexer = startIndexer({
    feed: documentsBackend.store,
    index: searchBackend.index,
    logger: logger.child({ service: 'indexer' }),
    pollIntervalMs: config.indexer.pollIntervalMs,
    batchSize: config.indexer.batchSize,
  });
  const gateway = await startGateway({
    ...common,
    ...config.gateway,
    // Port 0 (tests) means the subgraphs' real ports are only known now.
    subgraphUrls: { documents: documents.url, search: search.url },
    logger: logger.child({ service: 'gateway' }),
  });

  return {
    gatewayUrl: gateway.url,
    documentsUrl: documents.url,
    searchUrl: search.url,
    store,
    index,
    indexer,
    async stop() {
      await gateway.stop();
      await Promise.all([documents.stop(), search.stop()]);
      await indexer.stop();
      await Promise.all([documentsBackend.close(), searchBackend.close()]);
    },
  };
}

import { randomBytes } from 'node:crypto';
import { createJwtVerifier, type JwtVerifier } from '../../server/auth/jwt-verifier.ts';
import type { QuarryConfig } from '../../server/config.ts';
import { serverTlsFrom } from '../../server/http/tls.ts';
import type { Logger } from '../../server/logger.ts';
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
}

export interface SearchApp {
  url: string;
  index: SearchIndex;
  stop(): Promise<void>;
}

/** The search service wired from configuration: the one place its dependencies are built. */
export async function startSearchApp({
  config,
  logger,
  verifier,
  decorateIndex,
}: SearchAppOptions): Promise<SearchApp> {
  const backend = openSearchIndex(config);
  const index = decorateIndex ? decorateIndex(backend.index) : backend.index;
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
    tls: serverTlsFrom(config, true),
  });
  return {
    url: service.url,
    index,
    async stop() {
      await service.stop();
      await backend.close();
    },
  };
}

export interface IndexerApp {
  indexer: Indexer;
  stop(): Promise<void>;
}

/** The indexer wired from configuration: the documents outbox in, the search index out. */
export function startIndexerApp({ config, logger }: { config: QuarryConfig; logger: Logger }): IndexerApp {
  const documents = openDocumentStore(config);
  const search = openSearchIndex(config);
  const indexer = startIndexer({
    feed: documents.store,
    index: search.index,
    logger,
    pollIntervalMs: config.indexer.pollIntervalMs,
    batchSize: config.indexer.batchSize,
  });
  return {
    indexer,
    async stop() {
      await indexer.stop();
      await search.close();
      await documents.close();
    },
  };
}

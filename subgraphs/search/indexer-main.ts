import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { runMain } from '../../server/process.ts';
import { openDocumentStore } from '../documents/adapters/index.ts';
import { openSearchIndex } from './adapters/index.ts';
import { startIndexer } from './indexer.ts';

/** The indexer as its own process: it reads the documents outbox and writes the search index. */
runMain(async () => {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel, service: 'indexer' });
  const documents = openDocumentStore(config);
  const search = openSearchIndex(config);
  const indexer = startIndexer({
    feed: documents.store,
    index: search.index,
    logger,
    pollIntervalMs: config.indexer.pollIntervalMs,
    batchSize: config.indexer.batchSize,
  });
  logger.info('indexer running');
  return async () => {
    await indexer.stop();
    await search.close();
    await documents.close();
  };
});

import { loadIndexerConfig } from '../server/config.ts';
import { runService } from '../server/run-service.ts';

/** The indexer as its own process: it reads the documents outbox and writes the search index. */
runService({
  name: 'indexer',
  loadConfig: loadIndexerConfig,
  importApp: async () => (await import('./app.ts')).startIndexerApp,
  listening: 'indexer running; metrics and health routes listening',
  started(config, logger) {
    if (config.cache.redisUrl) return;
    // Its generation bumps land in its own memory, where no search process reads them.
    logger.warn(
      'no REDIS_URL: a separate search process keeps serving cached searches for up to CACHE_SEARCH_TTL_SECONDS after each write; set REDIS_URL, or run everything in one process with npm start',
    );
  },
});

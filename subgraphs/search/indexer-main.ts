import { loadConfig } from '../../server/config.ts';
import { startTracing } from '../../server/observability/tracing.ts';
import { runMain } from '../../server/process.ts';

/** The indexer as its own process: it reads the documents outbox and writes the search index. */
runMain(async () => {
  const config = loadConfig();
  const tracing = await startTracing({ serviceName: 'indexer', ...config.tracing });
  // Imported only now, so the instrumentations see http and the drivers load.
  const { createLogger } = await import('../../server/logger.ts');
  const { startIndexerApp } = await import('./app.ts');
  const logger = createLogger({ level: config.logLevel, service: 'indexer' });
  const app = await startIndexerApp({ config, logger });
  logger.info({ url: app.url }, 'indexer running; metrics and health routes listening');
  if (!config.cache.redisUrl) {
    // Its generation bumps land in its own memory, where no search process reads them.
    logger.warn(
      'no REDIS_URL: a separate search process keeps serving cached searches for up to CACHE_SEARCH_TTL_SECONDS after each write; set REDIS_URL, or run everything in one process with npm start',
    );
  }
  return async () => {
    await app.stop();
    await tracing.shutdown();
  };
});

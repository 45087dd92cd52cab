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
  return async () => {
    await app.stop();
    await tracing.shutdown();
  };
});

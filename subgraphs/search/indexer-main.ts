import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { runMain } from '../../server/process.ts';
import { startIndexerApp } from './app.ts';

/** The indexer as its own process: it reads the documents outbox and writes the search index. */
runMain(async () => {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel, service: 'indexer' });
  const app = await startIndexerApp({ config, logger });
  logger.info({ url: app.url }, 'indexer running; health routes listening');
  return () => app.stop();
});

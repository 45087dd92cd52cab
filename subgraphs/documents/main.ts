import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { runMain } from '../../server/process.ts';
import { startDocumentsApp } from './app.ts';

runMain(async () => {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel, service: 'documents' });
  const app = await startDocumentsApp({ config, logger });
  logger.info({ url: app.url }, 'documents subgraph listening');
  return () => app.stop();
});

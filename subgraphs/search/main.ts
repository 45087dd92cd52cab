import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { runMain } from '../../server/process.ts';
import { startSearchApp } from './app.ts';

runMain(async () => {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel, service: 'search' });
  const app = await startSearchApp({ config, logger });
  logger.info({ url: app.url }, 'search subgraph listening');
  return () => app.stop();
});

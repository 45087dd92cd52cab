import { loadConfig } from '../../server/config.ts';
import { startTracing } from '../../server/observability/tracing.ts';
import { runMain } from '../../server/process.ts';

runMain(async () => {
  const config = loadConfig();
  const tracing = await startTracing({ serviceName: 'search', ...config.tracing });
  // Imported only now, so the instrumentations see graphql, http and the drivers load.
  const { createLogger } = await import('../../server/logger.ts');
  const { startSearchApp } = await import('./app.ts');
  const logger = createLogger({ level: config.logLevel, service: 'search' });
  const app = await startSearchApp({ config, logger });
  logger.info({ url: app.url }, 'search subgraph listening');
  return async () => {
    await app.stop();
    await tracing.shutdown();
  };
});

import { loadConfig } from '../../server/config.ts';
import { startTracing } from '../../server/observability/tracing.ts';
import { runMain } from '../../server/process.ts';

runMain(async () => {
  const config = loadConfig();
  const tracing = await startTracing({ serviceName: 'documents', ...config.tracing });
  // Imported only now, so the instrumentations see graphql, http and the drivers load.
  const { createLogger } = await import('../../server/logger.ts');
  const { startDocumentsApp } = await import('./app.ts');
  const logger = createLogger({ level: config.logLevel, service: 'documents' });
  const app = await startDocumentsApp({ config, logger });
  logger.info({ url: app.url }, 'documents subgraph listening');
  return async () => {
    await app.stop();
    await tracing.shutdown();
  };
});

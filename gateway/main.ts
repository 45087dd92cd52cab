import { loadConfig } from '../server/config.ts';
import { startTracing } from '../server/observability/tracing.ts';
import { runMain } from '../server/process.ts';

runMain(async () => {
  const config = loadConfig();
  const tracing = await startTracing({ serviceName: 'gateway', ...config.tracing });
  // Imported only now, so the instrumentations see graphql, undici and http load.
  const { createLogger } = await import('../server/logger.ts');
  const { startGatewayApp } = await import('./app.ts');
  const logger = createLogger({ level: config.logLevel, service: 'gateway' });
  const gateway = await startGatewayApp({ config, logger });
  logger.info({ url: gateway.url }, 'gateway listening');
  return async () => {
    await gateway.stop();
    await tracing.shutdown();
  };
});

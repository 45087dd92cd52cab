import { loadConfig } from '../server/config.ts';
import { startTracing } from '../server/observability/tracing.ts';
import { runMain } from '../server/process.ts';

runMain(async () => {
  const config = loadConfig();
  const tracing = await startTracing({ serviceName: 'gateway', ...config.tracing });
  // Imported only now, so the instrumentations see graphql, undici and http load.
  const { createJwtVerifier } = await import('../server/auth/jwt-verifier.ts');
  const { createLogger } = await import('../server/logger.ts');
  const { createMetrics } = await import('../server/observability/metrics.ts');
  const { serverTlsFrom, subgraphClientTlsFrom } = await import('../server/http/tls.ts');
  const { startGateway } = await import('./server.ts');
  const logger = createLogger({ level: config.logLevel, service: 'gateway' });
  const gateway = await startGateway({
    ...config.gateway,
    verifier: await createJwtVerifier(config.jwt, { logger }),
    logger,
    production: config.production,
    host: config.host,
    metrics: createMetrics({ service: 'gateway', ...config.metrics }),
    tls: serverTlsFrom(config),
    subgraphClientTls: subgraphClientTlsFrom(config),
  });
  logger.info({ url: gateway.url }, 'gateway listening');
  return async () => {
    await gateway.stop();
    await tracing.shutdown();
  };
});

import { createJwtVerifier } from '../server/auth/jwt-verifier.ts';
import { loadConfig } from '../server/config.ts';
import { serverTlsFrom, subgraphClientTlsFrom } from '../server/http/tls.ts';
import { createLogger } from '../server/logger.ts';
import { runMain } from '../server/process.ts';
import { startGateway } from './server.ts';

runMain(async () => {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel, service: 'gateway' });
  const gateway = await startGateway({
    ...config.gateway,
    verifier: await createJwtVerifier(config.jwt, { logger }),
    logger,
    production: config.production,
    host: config.host,
    tls: serverTlsFrom(config),
    subgraphClientTls: subgraphClientTlsFrom(config),
  });
  logger.info({ url: gateway.url }, 'gateway listening');
  return () => gateway.stop();
});

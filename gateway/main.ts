import { loadConfig } from '../server/config.ts';
import { createLogger } from '../server/logger.ts';
import { runMain } from '../server/process.ts';
import { startGatewayApp } from './app.ts';

runMain(async () => {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel, service: 'gateway' });
  const gateway = await startGatewayApp({ config, logger });
  logger.info({ url: gateway.url }, 'gateway listening');
  return () => gateway.stop();
});

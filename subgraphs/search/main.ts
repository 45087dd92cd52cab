import { randomBytes } from 'node:crypto';
import { createJwtVerifier } from '../../server/auth/jwt-verifier.ts';
import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { runMain } from '../../server/process.ts';
import { openSearchIndex } from './adapters/index.ts';
import { startSearchService } from './service.ts';

runMain(async () => {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel, service: 'search' });
  const backend = openSearchIndex(config);
  const service = await startSearchService({
    index: backend.index,
    // Configuration requires CURSOR_SECRET in production; a development process may sign with its own.
    cursorSecret: config.search.cursorSecret ?? randomBytes(32).toString('hex'),
    limits: { maxFirst: config.search.maxFirst },
    verifier: await createJwtVerifier(config.jwt),
    logger,
    production: config.production,
    port: config.search.port,
    host: config.host,
  });
  logger.info({ url: service.url }, 'search subgraph listening');
  return async () => {
    await service.stop();
    await backend.close();
  };
});

import { createJwtVerifier } from '../../server/auth/jwt-verifier.ts';
import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { runMain } from '../../server/process.ts';
import { openDocumentStore } from './adapters/index.ts';
import { startDocumentsService } from './service.ts';

runMain(async () => {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel, service: 'documents' });
  const backend = openDocumentStore(config);
  const service = await startDocumentsService({
    store: backend.store,
    verifier: await createJwtVerifier(config.jwt),
    logger,
    production: config.production,
    port: config.documents.port,
    host: config.host,
  });
  logger.info({ url: service.url }, 'documents subgraph listening');
  return async () => {
    await service.stop();
    await backend.close();
  };
});

import { createJwtVerifier, type JwtVerifier } from '../../server/auth/jwt-verifier.ts';
import type { QuarryConfig } from '../../server/config.ts';
import { serverTlsFrom } from '../../server/http/tls.ts';
import type { Logger } from '../../server/logger.ts';
import { openDocumentStore } from './adapters/index.ts';
import type { DocumentStore } from './document-store.ts';
import { startDocumentsService } from './service.ts';

export interface DocumentsAppOptions {
  config: QuarryConfig;
  logger: Logger;
  verifier?: JwtVerifier;
  /** Wraps the configured store, for instance to count backend calls in a test. */
  decorateStore?: (store: DocumentStore) => DocumentStore;
}

export interface DocumentsApp {
  url: string;
  store: DocumentStore;
  stop(): Promise<void>;
}

/** The documents service wired from configuration: the one place its dependencies are built. */
export async function startDocumentsApp({
  config,
  logger,
  verifier,
  decorateStore,
}: DocumentsAppOptions): Promise<DocumentsApp> {
  const backend = openDocumentStore(config);
  const store = decorateStore ? decorateStore(backend.store) : backend.store;
  const service = await startDocumentsService({
    store,
    verifier: verifier ?? (await createJwtVerifier(config.jwt, { logger })),
    logger,
    production: config.production,
    port: config.documents.port,
    host: config.host,
    tls: serverTlsFrom(config, true),
  });
  return {
    url: service.url,
    store,
    async stop() {
      await service.stop();
      await backend.close();
    },
  };
}

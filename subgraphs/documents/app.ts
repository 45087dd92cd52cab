import { createJwtVerifier, type JwtVerifier } from '../../server/auth/jwt-verifier.ts';
import type { QuarryConfig } from '../../server/config.ts';
import { serverTlsFrom } from '../../server/http/tls.ts';
import type { Logger } from '../../server/logger.ts';
import { instrumentPort } from '../../server/observability/instrument-port.ts';
import { createMetrics, type ServiceMetrics } from '../../server/observability/metrics.ts';
import { openDocumentStore } from './adapters/index.ts';
import type { DocumentStore } from './document-store.ts';
import { startDocumentsService } from './service.ts';

export interface DocumentsAppOptions {
  config: QuarryConfig;
  logger: Logger;
  verifier?: JwtVerifier;
  /** Wraps the configured store, for instance to count backend calls in a test. */
  decorateStore?: (store: DocumentStore) => DocumentStore;
  /** Default: a fresh registry configured from `config.metrics`. */
  metrics?: ServiceMetrics;
}

export interface DocumentsApp {
  url: string;
  store: DocumentStore;
  metrics: ServiceMetrics;
  stop(): Promise<void>;
}

/** The documents service wired from configuration: the one place its dependencies are built. */
export async function startDocumentsApp({
  config,
  logger,
  verifier,
  decorateStore,
  metrics = createMetrics({ service: 'documents', ...config.metrics }),
}: DocumentsAppOptions): Promise<DocumentsApp> {
  const backend = await openDocumentStore(config);
  const store = instrumentPort(decorateStore ? decorateStore(backend.store) : backend.store, {
    dependency: 'documents-store',
    events: metrics.events,
  });
  const service = await startDocumentsService({
    store,
    verifier: verifier ?? (await createJwtVerifier(config.jwt, { logger })),
    logger,
    production: config.production,
    port: config.documents.port,
    host: config.host,
    metrics,
    tls: serverTlsFrom(config, true),
  });
  return {
    url: service.url,
    store,
    metrics,
    async stop() {
      await service.stop();
      await backend.close();
    },
  };
}

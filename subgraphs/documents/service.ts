import DataLoader from 'dataloader';
import { subgraphTypeDefs } from '../../schema/subgraphs.ts';
import type { JwtVerifier } from '../../server/auth/jwt-verifier.ts';
import type { DocumentRecord } from '../../server/documents/model.ts';
import { type DependencyHealth, healthRoutes } from '../../server/http/health.ts';
import type { ServerTls } from '../../server/http/tls.ts';
import type { Logger } from '../../server/logger.ts';
import type { ServiceMetrics } from '../../server/observability/metrics.ts';
import { type RunningSubgraph, startSubgraphServer } from '../../server/subgraph-server.ts';
import type { DocumentStore } from './document-store.ts';
import { createDocumentsResolvers, type DocumentsContext } from './resolvers.ts';
import { documentLimits } from './validation.ts';

export interface DocumentsServiceOptions {
  store: DocumentStore;
  verifier: JwtVerifier;
  logger: Logger;
  production: boolean;
  port: number;
  host: string;
  metrics: ServiceMetrics;
  tls?: ServerTls;
  /** What readiness reports; see `healthRoutes`. */
  health?: Record<string, DependencyHealth>;
}

export function startDocumentsService(options: DocumentsServiceOptions): Promise<RunningSubgraph> {
  const { store, metrics } = options;
  return startSubgraphServer<DocumentsContext>({
    ...options,
    typeDefs: subgraphTypeDefs('documents'),
    resolvers: createDocumentsResolvers(store),
    createContext: (principal) => ({
      principal,
      documentById: new DataLoader<string, DocumentRecord | null>(
        (ids) => {
          metrics.events.batchLoaded('documentById', ids.length);
          return store.findByIds(principal.tenantId, ids);
        },
        { maxBatchSize: documentLimits.idsPerRequest },
      ),
    }),
    routes: healthRoutes(options.health),
  });
}

import DataLoader from 'dataloader';
import { subgraphTypeDefs } from '../../schema/subgraphs.ts';
import type { DocumentRecord } from '../../server/documents/model.ts';
import { createResponseBudget, useResponseBudget } from '../../server/graphql/response-budget.ts';
import {
  type RunningSubgraph,
  type SubgraphHostOptions,
  startSubgraphServer,
} from '../../server/subgraph-server.ts';
import type { DocumentStore } from './document-store.ts';
import {
  createDocumentsResolvers,
  type DocumentsContext,
  type DocumentsResolverOptions,
} from './resolvers.ts';
import { documentLimits } from './validation.ts';

export interface DocumentsServiceOptions extends SubgraphHostOptions {
  store: DocumentStore;
  tenants: DocumentsResolverOptions;
}

export function startDocumentsService(options: DocumentsServiceOptions): Promise<RunningSubgraph> {
  const { store, tenants, metrics } = options;
  return startSubgraphServer<DocumentsContext>({
    ...options,
    typeDefs: subgraphTypeDefs('documents'),
    resolvers: createDocumentsResolvers(store, tenants),
    plugins: [useResponseBudget<DocumentsContext>((context) => context.responseBytes)],
    createContext: (principal, signal) => ({
      principal,
      signal,
      responseBytes: createResponseBudget(),
      documentById: new DataLoader<string, DocumentRecord | null>(
        (ids) => {
          metrics.events.batchLoaded('documentById', ids.length);
          return store.findByIds(principal.tenantId, ids, { signal });
        },
        { maxBatchSize: documentLimits.idsPerRequest },
      ),
    }),
  });
}

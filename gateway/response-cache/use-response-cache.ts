import type { ApolloServerPlugin } from '@apollo/server';
import { BREAK, type DocumentNode, visit } from 'graphql';
import type { GatewayContext } from '../context.ts';
import type { ResponseCache } from './response-cache.ts';

/**
 * The response cache's part inside Apollo: it stores what a missed query
 * produced. A tenant's cached responses are dropped after every mutation
 * that ran by `useWriteInvalidation`, which the entity cache shares.
 * Hits never get here: `createResponseCacheShortcut` answers them before
 * Apollo, after repeating the checks that would have let the request run.
 *
 * Only complete answers are stored: no errors, no partial data, and no page
 * a subgraph marked stale (served while the search backend is down). Only
 * requests the shortcut looked up carry a ticket (POSTs of JSON); others,
 * such as GET queries, run uncached.
 */
/**
 * Fields whose answer hangs on the caller's scopes as well as the tenant
 * (`usage` needs tenant:admin, `synonyms` search:admin): a cached answer
 * could reach a caller of the same tenant whom the resolver would refuse, so
 * no response holding one is stored. Fragments are followed too, since the
 * search covers the document.
 */
const scopedFields = new Set(['usage', 'synonyms']);

function selectsScopedField(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    Field(node) {
      if (!scopedFields.has(node.name.value)) return undefined;
      found = true;
      return BREAK;
    },
  });
  return found;
}

export function useResponseCache(responseCache: ResponseCache): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      return {
        // Set here, before any `willSendResponse`, so the request log sees it.
        async didResolveOperation({ contextValue, operation }) {
          if (operation?.operation !== 'query') contextValue.cacheStatus = 'bypass';
          else if (contextValue.cacheStatus === 'miss' && contextValue.responseCacheTicket)
            responseCache.events.cacheLookup('response', 'miss');
          else contextValue.cacheStatus ??= 'bypass';
        },
        async willSendResponse({ contextValue, document, operation, operationName, response }) {
          const { responseCacheTicket: ticket, responseToKeep } = contextValue;
          if (
            operation?.operation !== 'query' ||
            !ticket ||
            !responseToKeep ||
            response.body.kind !== 'single'
          )
            return;
          if (document && selectsScopedField(document)) return;
          const { singleResult } = response.body;
          if (singleResult.errors || !singleResult.data || contextValue.servedStale) return;
          // Kept from the bytes the HTTP server sends, so a hit is indistinguishable and the result is
          // serialized once.
          responseToKeep.keep = (body) => {
            void responseCache.store(ticket, { operationName: operationName ?? null, body }).catch(() => {});
          };
        },
      };
    },
  };
}

import type { ApolloServerPlugin } from '@apollo/server';
import { BREAK, type DocumentNode, visit } from 'graphql';
import type { GatewayContext } from '../context.ts';
import type { ResponseCache } from './response-cache.ts';

/**
 * The response cache's part inside Apollo: it stores what a missed query
 * produced, and drops a tenant's cached responses after every mutation that ran.
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
      // A mutation refused before execution (scope, rate limit, validation) changed nothing, so the
      // tenant's cached responses stay.
      let executed = false;
      return {
        async executionDidStart() {
          executed = true;
        },
        // Set here, before any `willSendResponse`, so the request log sees it.
        async didResolveOperation({ contextValue, operation }) {
          if (operation?.operation !== 'query') contextValue.cacheStatus = 'bypass';
          else if (contextValue.cacheStatus === 'miss' && contextValue.responseCacheTicket)
            responseCache.events.cacheLookup('response', 'miss');
          else contextValue.cacheStatus ??= 'bypass';
        },
        async willSendResponse({ contextValue, document, operation, operationName, response }) {
          if (operation?.operation === 'mutation') {
            if (!executed) return;
            // Awaited, so the writer's next read cannot find a response cached before its write. If
            // Redis is down the bump is retried until it lands, and this replica reads around the cache.
            await responseCache.invalidate(contextValue.principal.tenantId);
            return;
          }
          const ticket = contextValue.responseCacheTicket;
          if (operation?.operation !== 'query' || !ticket || response.body.kind !== 'single') return;
          if (document && selectsScopedField(document)) return;
          const { singleResult } = response.body;
          if (singleResult.errors || !singleResult.data || contextValue.servedStale) return;
          // The bytes Apollo sends (its field order and trailing newline), so a hit is indistinguishable.
          const body = `${JSON.stringify({ data: singleResult.data, extensions: singleResult.extensions })}\n`;
          void responseCache.store(ticket, { operationName: operationName ?? null, body }).catch(() => {});
        },
      };
    },
  };
}

import type { ApolloServerPlugin } from '@apollo/server';
import type { SearchContext } from './resolvers.ts';

/**
 * Marks a response that carries a stale search page (served from cache while
 * the search backend was down) with `extensions.stale`, whatever the client
 * selected or aliased. The gateway reads the mark so that its response cache
 * never keeps such an answer.
 */
export function useStaleMarker(): ApolloServerPlugin<SearchContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ contextValue, response }) {
          if (contextValue.cacheStatus !== 'stale' || response.body.kind !== 'single') return;
          const result = response.body.singleResult;
          result.extensions = { ...result.extensions, stale: true };
        },
      };
    },
  };
}

import type { ApolloServerPlugin } from '@apollo/server';
import type { GenerationBumps } from '../../server/cache/generation-bumps.ts';
import type { GatewayContext } from '../context.ts';

/**
 * Ends the tenant's cached responses and entities after every mutation that
 * ran: one bump of its response generation, which both caches key on,
 * awaited so the writer's next read cannot find anything cached before its
 * write. If Redis is down the bump is owed and retried until it lands, and
 * this replica reads around both caches for the tenant until then.
 */
export function useWriteInvalidation(
  responseGenerations: GenerationBumps,
): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      // A mutation refused before execution (scope, rate limit, validation) changed nothing, so the
      // tenant's cached entries stay.
      let executed = false;
      return {
        async executionDidStart() {
          executed = true;
        },
        async willSendResponse({ contextValue, operation }) {
          if (operation?.operation !== 'mutation' || !executed) return;
          await responseGenerations.bump([contextValue.principal.tenantId]);
        },
      };
    },
  };
}

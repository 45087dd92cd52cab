import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import type { Principal } from './jwt-verifier.ts';
import { assertOperationAllowed } from './scopes.ts';

/**
 * Refuses an operation whose type the token's scopes do not cover, once the
 * operation is known and before anything runs. The gateway and every
 * subgraph install it, so a caller that bypasses the gateway gets no more.
 */
export function useOperationScope<
  TContext extends BaseContext & { principal: Principal },
>(): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, contextValue }) {
          if (operation) assertOperationAllowed(contextValue.principal, operation.operation);
        },
      };
    },
  };
}

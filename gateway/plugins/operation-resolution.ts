import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { requestError } from '../../server/errors.ts';

/**
 * Refuses a request whose document does not say which operation to run (an
 * unknown `operationName`, or several operations and none named) with
 * OPERATION_RESOLUTION_FAILURE and HTTP 400. Apollo Server leaves that to
 * the executor, and the gateway's executor throws it without a public code,
 * which would reach the client as an internal error.
 */
export function useOperationResolution<TContext extends BaseContext>(): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, request }) {
          if (operation) return;
          throw requestError(
            'OPERATION_RESOLUTION_FAILURE',
            request.operationName
              ? `Unknown operation named "${request.operationName}".`
              : 'Must provide operation name if query contains multiple operations.',
          );
        },
      };
    },
  };
}

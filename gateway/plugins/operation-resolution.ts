import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { requestError } from '../../server/errors.ts';

/**
 * Refuses a request whose document does not say which operation to run (an
 * unknown `operationName`, or several operations and none named) with
 * OPERATION_RESOLUTION_FAILURE and HTTP 400. Apollo Server leaves that to
 * the executor, and the gateway's executor throws it without a public code,
 * which would reach the client as an internal error. A subscription, which
 * the gateway does not serve, is refused the same way, with BAD_REQUEST.
 */
export function useOperationResolution<TContext extends BaseContext>(): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, request }) {
          // The gateway serves no subscriptions; its executor would fail one as an internal error.
          if (operation?.operation === 'subscription')
            throw requestError('BAD_REQUEST', 'Subscriptions are not supported');
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

import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { trace } from '@opentelemetry/api';
import type { ObservedContext } from './request-outcome.ts';

/**
 * Puts the tenant and the operation name on the request's span (the HTTP
 * server span), so a trace can be found by tenant. Only identifiers: never
 * the token, variables or the query text.
 */
export function useSpanAttributes<
  TContext extends BaseContext & ObservedContext,
>(): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart({ contextValue }) {
      const span = trace.getActiveSpan();
      if (!span) return;
      if (contextValue.principal) span.setAttribute('quarry.tenant_id', contextValue.principal.tenantId);
      return {
        async didResolveOperation({ operationName }) {
          if (operationName) span.setAttribute('graphql.operation.name', operationName);
        },
      };
    },
  };
}

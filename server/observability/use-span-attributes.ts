import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { type Span, trace } from '@opentelemetry/api';
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
      annotateRequestSpan(span, { tenantId: contextValue.principal?.tenantId });
      return {
        async didResolveOperation({ operationName }) {
          annotateRequestSpan(span, { operationName });
        },
      };
    },
  };
}

/** Also used for requests answered before Apollo (response cache hits). */
export function annotateRequestSpan(
  span: Span,
  { tenantId, operationName }: { tenantId?: string; operationName?: string | null },
) {
  if (tenantId) span.setAttribute('quarry.tenant_id', tenantId);
  if (operationName) span.setAttribute('graphql.operation.name', operationName);
}

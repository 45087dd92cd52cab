import type { GraphQLRequest, GraphQLRequestListener } from '@apollo/server';
import type { GraphQLError } from 'graphql';

/** Parsed once, then served from Apollo's document store: a refused request costs a hash and a lookup. */
const placeholder = '{ __typename }';

/**
 * Refuses a request from `requestDidStart` with a client-visible error.
 * Apollo turns anything thrown there (or in `parsingDidStart`) into a 500,
 * and `didResolveOperation` is the first hook whose errors it reports as
 * they are, with their HTTP status. So the request's text is swapped for a
 * trivial placeholder (nothing the client sent is parsed, looked up in the
 * APQ cache or validated) and the error is thrown once the placeholder
 * resolves. Plugins that refuse this way come before the operation scope
 * plugin, so their error is the one reported.
 */
export function refuseBeforeParsing<TContext>(
  request: GraphQLRequest,
  error: GraphQLError,
): GraphQLRequestListener<TContext & Record<string, unknown>> {
  request.query = placeholder;
  request.operationName = undefined;
  if (request.extensions) {
    const { persistedQuery: _dropped, ...rest } = request.extensions;
    request.extensions = rest;
  }
  return {
    async didResolveOperation() {
      throw error;
    },
  };
}

import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { defaultMaxResponseBytes, responseTooLargeMessage } from '../http/http-server.ts';

/** The bytes one response may still take of its large fields; charged as they resolve. */
export interface ResponseBudget {
  /** Returns `text` while the response's charged text is under the cap, and an empty string past it. */
  charge(text: string): string;
  /** Whether the response passed the cap; it is then answered with RESPONSE_TOO_LARGE alone. */
  readonly exceeded: boolean;
}

/**
 * Counts a response's large strings while it executes, so a query whose
 * answer would pass the cap (many aliases over the same long bodies) stops
 * adding them at the cap, rather than building and serialising the whole
 * answer before the HTTP layer measures it.
 */
export function createResponseBudget(maxBytes = defaultMaxResponseBytes): ResponseBudget {
  let left = maxBytes;
  return {
    charge(text) {
      // UTF-16 length: a lower bound of the UTF-8 bytes, exact for ASCII, and free to compute.
      left -= text.length;
      return left < 0 ? '' : text;
    },
    get exceeded() {
      return left < 0;
    },
  };
}

/**
 * Answers a response that passed its budget with RESPONSE_TOO_LARGE and no
 * data, so nothing of it is serialised; the gateway refuses the client's
 * whole response on seeing the code.
 */
export function useResponseBudget<TContext extends BaseContext>(
  budgetOf: (context: TContext) => ResponseBudget,
): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ contextValue, response }) {
          if (response.body.kind !== 'single' || !budgetOf(contextValue).exceeded) return;
          response.body.singleResult = {
            errors: [{ message: responseTooLargeMessage, extensions: { code: 'RESPONSE_TOO_LARGE' } }],
          };
        },
      };
    },
  };
}

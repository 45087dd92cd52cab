import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import type { Logger } from '../logger.ts';
import { classifyRequest, errorCodes, type ObservedContext, type RequestOutcome } from './request-outcome.ts';

export interface UseRequestLogOptions {
  logger: Logger;
  /** Level of the line for a request without server errors. Default `info`. */
  level?: 'info' | 'debug';
}

/**
 * One JSON line per request: tenant, operation, duration, cache status and
 * error codes. The logger adds `trace_id` and `span_id` (the request's HTTP
 * server span, active while Apollo runs these hooks), so the line leads to
 * its trace. Never the query text, variables or headers, which can carry
 * document bodies and tokens.
 */
export function useRequestLog<TContext extends BaseContext & ObservedContext>({
  logger,
  level = 'info',
}: UseRequestLogOptions): ApolloServerPlugin<TContext> {
  const logRequest = createRequestLog(logger, level);
  return {
    async contextCreationDidFail({ error }) {
      logger.info({ errors: errorCodes([error]) }, 'request refused');
    },
    async requestDidStart({ contextValue }) {
      const startedAt = performance.now();
      return {
        async willSendResponse({ operationName, errors }) {
          const { principal, cacheStatus } = contextValue;
          logRequest({
            tenantId: principal?.tenantId,
            operationName,
            startedAt,
            cacheStatus,
            errors,
          });
        },
      };
    },
  };
}

/**
 * Writes one request's line; also used for requests answered before Apollo
 * (response cache hits). The line has a fixed shape of flat fields, none of
 * which can hold a credential, so it skips the logger's redaction net: its
 * wildcard paths were about three quarters of building the line
 * (`bench/log-line.ts`).
 */
export function createRequestLog(logger: Logger, level: 'info' | 'debug') {
  const lines = logger.child({}, { redact: [] });
  return (outcome: RequestOutcome) => {
    const codes = errorCodes(outcome.errors);
    const line = {
      tenant: outcome.tenantId,
      operation: outcome.operationName ?? null,
      durationMs: Math.round((performance.now() - outcome.startedAt) * 100) / 100,
      cache: outcome.cacheStatus ?? 'none',
      errors: codes,
    };
    lines[classifyRequest(codes) === 'server_error' ? 'warn' : level](line, 'request');
  };
}

import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import type { ServiceMetrics } from './metrics.ts';
import { errorCodes, type ObservedContext } from './request-outcome.ts';

export interface UseMetricsOptions {
  /** The service's metrics; its registry is what `/metrics` serves. */
  metrics: ServiceMetrics;
}

/**
 * Request rate, latency and errors per operation and tenant. A request that
 * fails authentication never reaches the request hooks, so it is counted from
 * `contextCreationDidFail` with tenant `none`.
 */
export function useMetrics<TContext extends BaseContext & ObservedContext>({
  metrics,
}: UseMetricsOptions): ApolloServerPlugin<TContext> {
  return {
    async contextCreationDidFail({ error }) {
      metrics.observeRequest({
        operation: 'unknown',
        tenant: 'none',
        codes: errorCodes([error]),
      });
    },
    async requestDidStart({ contextValue }) {
      const started = performance.now();
      return {
        async willSendResponse({ operationName, errors }) {
          metrics.observeRequest({
            operation: metrics.operationLabel(operationName),
            tenant: metrics.tenantLabel(contextValue.principal?.tenantId),
            seconds: (performance.now() - started) / 1000,
            codes: errorCodes(errors),
          });
        },
      };
    },
  };
}

import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { noTenantLabel, type ServiceMetrics } from './metrics.ts';
import { errorCodes, type ObservedContext, type RequestOutcome } from './request-outcome.ts';

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
        tenant: noTenantLabel,
        codes: errorCodes([error]),
      });
    },
    async requestDidStart({ contextValue }) {
      const startedAt = performance.now();
      return {
        async willSendResponse({ operationName, errors }) {
          // Not a client's request: the cache metrics count refreshes.
          if (contextValue.gatewayInitiated) return;
          recordRequest(metrics, {
            tenantId: contextValue.principal?.tenantId,
            operationName,
            startedAt,
            errors,
          });
        },
      };
    },
  };
}

/** Counts one finished request; also used for requests answered before Apollo (response cache hits). */
export function recordRequest(metrics: ServiceMetrics, outcome: RequestOutcome) {
  const tenant = metrics.tenantLabel(outcome.tenantId);
  metrics.observeRequest({
    operation: metrics.operationLabel(outcome.operationName, tenant),
    tenant,
    seconds: (performance.now() - outcome.startedAt) / 1000,
    codes: errorCodes(outcome.errors),
  });
}

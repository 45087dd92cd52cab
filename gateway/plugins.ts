import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import type { ValidationRule } from 'graphql';
import { useOperationScope } from '../server/auth/operation-scope-plugin.ts';
import type { Logger } from '../server/logger.ts';
import type { ServiceMetrics } from '../server/observability/metrics.ts';
import { useMetrics } from '../server/observability/use-metrics.ts';
import { useRequestLog } from '../server/observability/use-request-log.ts';
import { useSpanAttributes } from '../server/observability/use-span-attributes.ts';
import type { GatewayContext } from './context.ts';
import { type OperationLimits, operationLimitRules, useOperationLimits } from './plugins/operation-limits.ts';
import { useOperationResolution } from './plugins/operation-resolution.ts';
import { type PersistedOperationsOptions, usePersistedOperations } from './plugins/persisted-operations.ts';
import { type RateLimitOptions, useRateLimit } from './plugins/rate-limit.ts';
import type { ResponseCache } from './response-cache/response-cache.ts';
import { useResponseCache } from './response-cache/use-response-cache.ts';

export interface GatewayPluginOptions {
  production: boolean;
  logger: Logger;
  metrics: ServiceMetrics;
  persistedOperations: PersistedOperationsOptions;
  limits: OperationLimits;
  rateLimit: RateLimitOptions;
  /** The explorer's landing page (`useExplorer`); absent in production, where GET /graphql serves no page. */
  explorer?: ApolloServerPlugin<GatewayContext>;
  /** Absent when RESPONSE_CACHE_TTL_SECONDS is 0. */
  responseCache?: ResponseCache;
}

/**
 * The gateway's cross-cutting behaviour, in the order it runs. Authentication
 * is not here: it happens while building the context, before any plugin,
 * so nothing below ever runs for an unverified caller (the observers still
 * count and log such a refusal, through `contextCreationDidFail`).
 *
 * 1. Landing page: the explorer (GraphiQL) for developers, nothing in production.
 * 2. Request log: one line per request with its trace id. It comes before
 *    every plugin that can refuse a request, so refusals are logged too.
 * 3. Metrics: rate, latency and error codes per operation and tenant; same
 *    reason to come early.
 * 4. Span attributes: tenant and operation name on the request's span.
 * 5. Operation resolution: refuses a document that does not say which
 *    operation to run (OPERATION_RESOLUTION_FAILURE), which the gateway's
 *    executor would otherwise fail as an internal error.
 * 6. Operation limits: tokens of the text the client sent, before anything
 *    parses it, and `first` and cost once the operation and its variables
 *    are known, before planning.
 *    It comes before persisted operations so that the token limit applies to
 *    client text only: a manifest id carries none, and its body was checked
 *    when the manifest loaded. (Depth, aliases and directives are
 *    validation rules: `gatewayValidationRules` below.)
 * 7. Persisted operations: swaps a manifest id for its body, and refuses
 *    partners' free-form text, in `requestDidStart`, which runs before
 *    Apollo's APQ lookup, parsing and validation (so a refused partner costs
 *    nothing more). A manifest body is served from the document store already
 *    parsed and validated.
 * 8. Operation scope: refuses mutations without `documents:write` (and
 *    queries without `documents:read`) before planning any subgraph fetch.
 * 9. Rate limit: before any subgraph fetch, so a refused request costs the
 *    backends nothing. It hooks `didResolveOperation` like the scope check;
 *    Apollo runs those hooks concurrently, so a request refused for its
 *    scope still spends a token (a caller hammering with the wrong scope is
 *    limited too). Malformed requests fail parsing or validation before it.
 * 10. Response cache: stores the answers to queries that missed, and drops
 *    the tenant's cached answers after a mutation. Hits never reach Apollo:
 *    `createResponseCacheShortcut` answers them in front of it, after
 *    repeating the token, partner, scope and rate-limit checks above.
 *
 * The execution deadline is not a plugin (plugins cannot cut execution
 * short): see `execution-deadline.ts`, which wraps the gateway's executor.
 */
export function gatewayPlugins({
  production,
  explorer,
  logger,
  metrics,
  persistedOperations,
  limits,
  rateLimit,
  responseCache,
}: GatewayPluginOptions): ApolloServerPlugin<GatewayContext>[] {
  return [
    explorer && !production ? explorer : ApolloServerPluginLandingPageDisabled(),
    useRequestLog<GatewayContext>({ logger }),
    useMetrics<GatewayContext>({ metrics }),
    useSpanAttributes<GatewayContext>(),
    useOperationResolution<GatewayContext>(),
    useOperationLimits<GatewayContext>({ limits, hideLimits: production }),
    usePersistedOperations(persistedOperations),
    useOperationScope<GatewayContext>(),
    useRateLimit(rateLimit),
    ...(responseCache ? [useResponseCache(responseCache)] : []),
  ];
}

/**
 * Validation rules on top of graphql-js's own, run by Apollo on every document
 * it has not validated before: the operation limits that do not depend on
 * variables (depth, aliases, directives). Production messages name the limit, never its number.
 */
export function gatewayValidationRules({
  production,
  limits,
}: Pick<GatewayPluginOptions, 'production' | 'limits'>): ValidationRule[] {
  return operationLimitRules(limits, production);
}

import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import type { ValidationRule } from 'graphql';
import type { GenerationBumps } from '../server/cache/generation-bumps.ts';
import type { Logger } from '../server/logger.ts';
import type { ServiceMetrics } from '../server/observability/metrics.ts';
import { useMetrics } from '../server/observability/use-metrics.ts';
import { useRequestLog } from '../server/observability/use-request-log.ts';
import { useSpanAttributes } from '../server/observability/use-span-attributes.ts';
import { type AdmissionCheck, useAdmission } from './admission/index.ts';
import type { GatewayContext } from './context.ts';
import { type OperationLimits, operationLimitRules, useOperationLimits } from './plugins/operation-limits.ts';
import { useOperationResolution } from './plugins/operation-resolution.ts';
import { type PersistedOperationsOptions, usePersistedOperations } from './plugins/persisted-operations.ts';
import { useWriteInvalidation } from './plugins/write-invalidation.ts';
import type { ResponseCache } from './response-cache/response-cache.ts';
import { useResponseCache } from './response-cache/use-response-cache.ts';

export interface GatewayPluginOptions {
  production: boolean;
  logger: Logger;
  metrics: ServiceMetrics;
  persistedOperations: PersistedOperationsOptions;
  limits: OperationLimits;
  /** Whether this caller may run this request (`gatewayAdmission`). */
  admission: readonly AdmissionCheck[];
  /** The explorer's landing page (`useExplorer`); absent in production, where GET /graphql serves no page. */
  explorer?: ApolloServerPlugin<GatewayContext>;
  /** Absent when RESPONSE_CACHE_TTL_SECONDS is 0. */
  responseCache?: ResponseCache;
  /** The tenants' response generation, which the response and entity caches key on; absent when both are off. */
  responseGenerations?: GenerationBumps;
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
 * 7. Admission (`admission/`): whether this caller may run this request, the
 *    one list that response-cache hits also pass (partner policy before
 *    parsing, then scope and rate limit before planning any subgraph fetch).
 *    It comes before persisted operations, so a refused partner costs no
 *    manifest or APQ lookup.
 * 8. Persisted operations: swaps a manifest id for its body in
 *    `requestDidStart`, before Apollo's APQ lookup, parsing and validation,
 *    and keeps APQ registrations per tenant.
 * 9. Response cache: stores the answers to queries that missed. Hits never
 *    reach Apollo: `createResponseCacheShortcut` answers them in front of it,
 *    after the same admission.
 * 10. Write invalidation: after a mutation that ran, bumps the tenant's
 *    response generation, which ends its cached responses and entities.
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
  admission,
  responseCache,
  responseGenerations,
}: GatewayPluginOptions): ApolloServerPlugin<GatewayContext>[] {
  return [
    explorer && !production ? explorer : ApolloServerPluginLandingPageDisabled(),
    useRequestLog<GatewayContext>({ logger }),
    useMetrics<GatewayContext>({ metrics }),
    useSpanAttributes<GatewayContext>(),
    useOperationResolution<GatewayContext>(),
    useOperationLimits<GatewayContext>({ limits, hideLimits: production }),
    useAdmission(admission),
    usePersistedOperations(persistedOperations),
    ...(responseCache ? [useResponseCache(responseCache)] : []),
    ...(responseGenerations ? [useWriteInvalidation(responseGenerations)] : []),
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

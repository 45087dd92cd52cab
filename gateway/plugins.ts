import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { useOperationScope } from '../server/auth/operation-scope-plugin.ts';
import type { Logger } from '../server/logger.ts';
import type { ServiceMetrics } from '../server/observability/metrics.ts';
import { useMetrics } from '../server/observability/use-metrics.ts';
import { useRequestLog } from '../server/observability/use-request-log.ts';
import { useSpanAttributes } from '../server/observability/use-span-attributes.ts';
import type { GatewayContext } from './context.ts';

export interface GatewayPluginOptions {
  production: boolean;
  logger: Logger;
  metrics: ServiceMetrics;
}

/**
 * The gateway's cross-cutting behaviour, in the order it runs. Authentication
 * is not here: it happens while building the context, before any plugin,
 * so nothing below ever runs for an unverified caller (the observers still
 * count and log such a refusal, through `contextCreationDidFail`).
 *
 * 1. Landing page: Apollo Sandbox for developers, nothing in production.
 * 2. Request log: one line per request with its trace id. It comes before
 *    every plugin that can refuse a request, so refusals are logged too.
 * 3. Metrics: rate, latency and error codes per operation and tenant; same
 *    reason to come early.
 * 4. Span attributes: tenant and operation name on the request's span.
 * 5. Operation scope: refuses mutations without `documents:write` (and
 *    queries without `documents:read`) before planning any subgraph fetch.
 */
export function gatewayPlugins({
  production,
  logger,
  metrics,
}: GatewayPluginOptions): ApolloServerPlugin<GatewayContext>[] {
  return [
    production
      ? ApolloServerPluginLandingPageDisabled()
      : ApolloServerPluginLandingPageLocalDefault({ embed: true }),
    useRequestLog<GatewayContext>({ logger }),
    useMetrics<GatewayContext>({ metrics }),
    useSpanAttributes<GatewayContext>(),
    useOperationScope<GatewayContext>(),
  ];
}

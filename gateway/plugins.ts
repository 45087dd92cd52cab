import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { useOperationScope } from '../server/auth/operation-scope-plugin.ts';
import type { GatewayContext } from './context.ts';
import { type RateLimitOptions, useRateLimit } from './plugins/rate-limit.ts';

export interface GatewayPluginOptions {
  production: boolean;
  rateLimit: RateLimitOptions;
}

/**
 * The gateway's cross-cutting behaviour, in the order it runs. Authentication
 * is not here: it happens while building the context, before any plugin,
 * so nothing below ever runs for an unverified caller.
 *
 * 1. Landing page: Apollo Sandbox for developers, nothing in production.
 * 2. Operation scope: refuses mutations without `documents:write` (and
 *    queries without `documents:read`) before planning any subgraph fetch.
 * 3. Rate limit: before any subgraph fetch, so a refused request costs the
 *    backends nothing. It hooks `didResolveOperation` like the scope check;
 *    Apollo runs those hooks concurrently, so a request refused for its
 *    scope still spends a token (a caller hammering with the wrong scope is
 *    limited too). Malformed requests fail parsing or validation before it.
 */
export function gatewayPlugins({
  production,
  rateLimit,
}: GatewayPluginOptions): ApolloServerPlugin<GatewayContext>[] {
  return [
    production
      ? ApolloServerPluginLandingPageDisabled()
      : ApolloServerPluginLandingPageLocalDefault({ embed: true }),
    useOperationScope<GatewayContext>(),
    useRateLimit(rateLimit),
  ];
}

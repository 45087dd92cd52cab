import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { useOperationScope } from '../server/auth/operation-scope-plugin.ts';
import type { GatewayContext } from './context.ts';

export interface GatewayPluginOptions {
  production: boolean;
}

/**
 * The gateway's cross-cutting behaviour, in the order it runs. Authentication
 * is not here: it happens while building the context, before any plugin,
 * so nothing below ever runs for an unverified caller.
 *
 * 1. Landing page: Apollo Sandbox for developers, nothing in production.
 * 2. Operation scope: refuses mutations without `documents:write` (and
 *    queries without `documents:read`) before planning any subgraph fetch.
 */
export function gatewayPlugins({ production }: GatewayPluginOptions): ApolloServerPlugin<GatewayContext>[] {
  return [
    production
      ? ApolloServerPluginLandingPageDisabled()
      : ApolloServerPluginLandingPageLocalDefault({ embed: true }),
    useOperationScope<GatewayContext>(),
  ];
}

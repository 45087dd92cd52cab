import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import type { ValidationRule } from 'graphql';
import { useOperationScope } from '../server/auth/operation-scope-plugin.ts';
import type { GatewayContext } from './context.ts';
import { type OperationLimits, operationLimitRules, useOperationLimits } from './plugins/operation-limits.ts';
import { type PersistedOperationsOptions, usePersistedOperations } from './plugins/persisted-operations.ts';

export interface GatewayPluginOptions {
  production: boolean;
  persistedOperations: PersistedOperationsOptions;
  limits: OperationLimits;
}

/**
 * The gateway's cross-cutting behaviour, in the order it runs. Authentication
 * is not here: it happens while building the context, before any plugin,
 * so nothing below ever runs for an unverified caller.
 *
 * 1. Landing page: Apollo Sandbox for developers, nothing in production.
 * 2. Operation limits: tokens of the text the client sent, before anything
 *    parses it, and `first` once the operation is known, before planning.
 *    It comes before persisted operations so that the token limit applies to
 *    client text only: a manifest id carries none, and its body was checked
 *    when the manifest loaded. (Depth, aliases, directives and cost are
 *    validation rules: `gatewayValidationRules` below.)
 * 3. Persisted operations: swaps a manifest id for its body, and refuses
 *    partners' free-form text, in `requestDidStart`, which runs before
 *    Apollo's APQ lookup, parsing and validation (so a refused partner costs
 *    nothing more). A manifest body is served from the document store already
 *    parsed and validated.
 * 4. Operation scope: refuses mutations without `documents:write` (and
 *    queries without `documents:read`) before planning any subgraph fetch.
 *
 * The execution deadline is not a plugin (plugins cannot cut execution
 * short): see `execution-deadline.ts`, which wraps the gateway's executor.
 */
export function gatewayPlugins({
  production,
  persistedOperations,
  limits,
}: GatewayPluginOptions): ApolloServerPlugin<GatewayContext>[] {
  return [
    production
      ? ApolloServerPluginLandingPageDisabled()
      : ApolloServerPluginLandingPageLocalDefault({ embed: true }),
    useOperationLimits<GatewayContext>({ limits, hideLimits: production }),
    usePersistedOperations(persistedOperations),
    useOperationScope<GatewayContext>(),
  ];
}

/**
 * Validation rules on top of graphql-js's own, run by Apollo on every document
 * it has not validated before: the operation limits (depth, aliases,
 * directives, cost). Production messages name the limit, never its number.
 */
export function gatewayValidationRules({
  production,
  limits,
}: Pick<GatewayPluginOptions, 'production' | 'limits'>): ValidationRule[] {
  return operationLimitRules(limits, production);
}

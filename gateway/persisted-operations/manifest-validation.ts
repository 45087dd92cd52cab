import { Supergraph } from '@apollo/federation-internals';
import type { GraphQLSchema, ValidationRule } from 'graphql';
import { type OperationLimits, persistedOperationRules } from '../plugins/operation-limits.ts';

/**
 * What every persisted operation must pass. The gateway applies it when the
 * manifest loads and on each reload; `npm run pq:build` applies it before
 * writing one, so a manifest it writes is one the gateway accepts.
 */
export interface ManifestValidation {
  /** The API schema clients see, without federation's internals. */
  schema: GraphQLSchema;
  /** The operation limits' validation rules, cost included (priced with variables at their defaults). */
  rules: readonly ValidationRule[];
}

export function manifestValidation(supergraphSdl: string, limits: OperationLimits): ManifestValidation {
  return {
    schema: Supergraph.build(supergraphSdl).apiSchema().toGraphQLJSSchema(),
    rules: persistedOperationRules(limits),
  };
}

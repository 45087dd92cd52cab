import type { ApolloServerPlugin } from '@apollo/server';
import { type GraphQLError, OperationTypeNode } from 'graphql';
import type { Principal } from '../../server/auth/jwt-verifier.ts';
import type { GatewayContext } from '../context.ts';
import { persistedQueryHash } from '../plugins/persisted-operations.ts';
import { refuseBeforeParsing } from '../plugins/refuse-early.ts';

/** What an admission check sees of a request: who sends it and what it names, never its parsed document. */
export interface AdmissionRequest {
  principal: Principal;
  query?: string;
  persistedId?: string;
  /** Aborts when the client closes the connection before its answer is sent. */
  clientGone?: AbortSignal;
}

/**
 * One check that decides whether this caller may run this request.
 * `request` checks run before anything is parsed, and synchronously: Apollo
 * starts every plugin's `requestDidStart` at once, and the persisted-operation
 * and APQ lookups after them must see a refused request already replaced.
 * `operation` checks run once the operation's type is known, before any
 * subgraph is called.
 */
export type AdmissionCheck =
  | { name: string; stage: 'request'; refusal(request: AdmissionRequest): GraphQLError | undefined }
  | {
      name: string;
      stage: 'operation';
      refusal(
        request: AdmissionRequest,
        operation: OperationTypeNode,
      ): GraphQLError | undefined | Promise<GraphQLError | undefined>;
    };

/**
 * What admission decided for a request that reached Apollo already judged:
 * a cache hit it refused, or the cache's own background refresh (admitted by
 * the hit that started it). Apollo's path reports the decision instead of
 * checking again, so nothing is charged twice.
 */
export type AdmissionVerdict = { admitted: true } | { refused: GraphQLError; stage: AdmissionCheck['stage'] };

function requestRefusal(
  checks: readonly AdmissionCheck[],
  request: AdmissionRequest,
): GraphQLError | undefined {
  for (const check of checks) {
    const refusal = check.stage === 'request' ? check.refusal(request) : undefined;
    if (refusal) return refusal;
  }
  return undefined;
}

/**
 * Every operation check runs, and the first refusal in list order is
 * reported: a caller refused for its scope still spends a rate-limit token,
 * so a client hammering with the wrong token is limited too.
 */
async function operationRefusal(
  checks: readonly AdmissionCheck[],
  request: AdmissionRequest,
  operation: OperationTypeNode,
): Promise<GraphQLError | undefined> {
  const refusals = await Promise.all(
    checks.map((check) => (check.stage === 'operation' ? check.refusal(request, operation) : undefined)),
  );
  return refusals.find((refusal) => refusal !== undefined);
}

/** Admission for a request the response cache can answer (a query): the verdict the full path would reach. */
export async function admit(
  checks: readonly AdmissionCheck[],
  request: AdmissionRequest,
): Promise<AdmissionVerdict> {
  const atRequest = requestRefusal(checks, request);
  if (atRequest) return { refused: atRequest, stage: 'request' };
  const atOperation = await operationRefusal(checks, request, OperationTypeNode.QUERY);
  return atOperation ? { refused: atOperation, stage: 'operation' } : { admitted: true };
}

/**
 * The same checks on Apollo's path. Request-stage refusals go through
 * `refuseBeforeParsing`; operation-stage ones are thrown from
 * `didResolveOperation`, the first hook whose errors Apollo reports as they are.
 */
export function useAdmission(checks: readonly AdmissionCheck[]): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart({ request, contextValue }) {
      const verdict = contextValue.admission;
      const admissionRequest = {
        principal: contextValue.principal,
        query: request.query,
        persistedId: persistedQueryHash(request.extensions),
        clientGone: contextValue.clientGone,
      };
      const atRequest =
        verdict === undefined
          ? requestRefusal(checks, admissionRequest)
          : 'refused' in verdict && verdict.stage === 'request'
            ? verdict.refused
            : undefined;
      if (atRequest) return refuseBeforeParsing(request, atRequest);
      return {
        async didResolveOperation({ operation }) {
          if (verdict !== undefined) {
            if ('refused' in verdict) throw verdict.refused;
            return;
          }
          // No operation: `useOperationResolution` refuses the request.
          if (!operation) return;
          const atOperation = await operationRefusal(checks, admissionRequest, operation.operation);
          if (atOperation) throw atOperation;
        },
      };
    },
  };
}

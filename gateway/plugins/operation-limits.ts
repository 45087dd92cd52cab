import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import {
  type DocumentNode,
  type GraphQLError,
  Kind,
  Lexer,
  type OperationDefinitionNode,
  Source,
  TokenKind,
  type ValidationContext,
  type ValidationRule,
  visit,
} from 'graphql';
import { quarryError, requestError } from '../../server/errors.ts';
import { operationCost } from './operation-cost.ts';
import { refuseBeforeParsing } from './refuse-early.ts';

export interface OperationLimits {
  /** Deepest selection, fragments flattened. Default 8 (a search page is 4 deep). */
  maxDepth: number;
  /** Aliased fields per operation, the usual way to multiply one expensive field. Default 15. */
  maxAliases: number;
  /** Lexical tokens in the document, checked before parsing builds an AST. Default 1000. */
  maxTokens: number;
  /** Directives per operation. Default 20. */
  maxDirectives: number;
  /**
   * Largest `operationCost` (see `costModel`), with list sizes from the request's own variables.
   * Default 10000: one full `SearchPage` of 100 hits fits, and a second one in the same operation
   * does not.
   */
  maxCost: number;
  /**
   * Largest `first` argument anywhere in the operation (literal or variable), refused with
   * BAD_USER_INPUT like the subgraph would. Default 100 (SEARCH_MAX_FIRST).
   */
  maxFirst: number;
}

export interface OperationLimitsOptions {
  limits: OperationLimits;
  /** Production messages say which limit was hit, never its number. Default false. */
  hideLimits?: boolean;
}

const limitCode = 'OPERATION_LIMIT_EXCEEDED';

/**
 * The graphql-armor validation rules for depth, aliases and directives,
 * given to Apollo as `validationRules` so an operation over a limit fails
 * validation and is never cached as valid. Each reports an error coded
 * OPERATION_LIMIT_EXCEEDED (Apollo relabels validation errors; the error
 * formatter restores the code). With `hideLimits`, our message replaces
 * armor's, which states the limit and the value found. Cost is not among
 * them: it depends on the variables, so `useOperationLimits` checks it on
 * every request.
 */
export function operationLimitRules(limits: OperationLimits, hideLimits = false): ValidationRule[] {
  const common = (errorMessage: string) => ({
    exposeLimits: !hideLimits,
    errorMessage,
    propagateOnRejection: false,
    onReject: [
      (context: ValidationContext | null, error: GraphQLError) =>
        context?.reportError(
          quarryError(limitCode, error.message.replace(/^Syntax Error: /, ''), {}, error.nodes),
        ),
    ],
  });
  return [
    maxDepthRule({ ...common('Query is too deep'), n: limits.maxDepth }),
    maxAliasesRule({ ...common('Query has too many aliases'), n: limits.maxAliases }),
    maxDirectivesRule({ ...common('Query has too many directives'), n: limits.maxDirectives }),
  ];
}

const costMessage = (limits: OperationLimits, cost: number, hideLimits: boolean) =>
  hideLimits
    ? 'Query is too expensive'
    : `Query Cost limit of ${limits.maxCost} exceeded, found ${Math.ceil(cost)}.`;

/**
 * The rules a persisted operation must pass when the manifest loads: the
 * validation rules above, and the cost with every variable at its default.
 */
export function persistedOperationRules(limits: OperationLimits): ValidationRule[] {
  const costRule: ValidationRule = (context) => ({
    OperationDefinition(operation) {
      const cost = operationCost(context.getSchema(), context.getDocument(), operation);
      if (cost > limits.maxCost)
        context.reportError(quarryError(limitCode, costMessage(limits, cost, false), {}, [operation]));
    },
  });
  return [...operationLimitRules(limits), costRule];
}

/**
 * Counts tokens without building an AST, stopping at the first one over the limit.
 * Not graphql-armor's max-tokens or Apollo's `parseOptions.maxTokens`: both run at
 * parse time, after the APQ lookup, and the refusal must precede both on every path.
 */
export function exceedsTokenLimit(source: string, maxTokens: number): boolean {
  const lexer = new Lexer(new Source(source));
  let count = 0;
  try {
    while (lexer.advance().kind !== TokenKind.EOF) {
      count += 1;
      if (count > maxTokens) return true;
    }
  } catch {
    // A lexical error is the parser's to report, with its usual GRAPHQL_PARSE_FAILED.
  }
  return false;
}

function largestFirst(
  document: DocumentNode,
  operation: OperationDefinitionNode | undefined,
  variables: Record<string, unknown> | undefined,
): number {
  // A variable the request leaves out takes its default: `query ($n: Int = 5000)`.
  const defaults = new Map<string, number>();
  for (const definition of operation?.variableDefinitions ?? []) {
    if (definition.defaultValue?.kind === Kind.INT)
      defaults.set(definition.variable.name.value, Number(definition.defaultValue.value));
  }
  let largest = 0;
  visit(document, {
    Argument(node) {
      if (node.name.value !== 'first') return;
      let value: unknown;
      if (node.value.kind === Kind.INT) value = Number(node.value.value);
      else if (node.value.kind === Kind.VARIABLE) {
        const name = node.value.name.value;
        value = variables && name in variables ? variables[name] : defaults.get(name);
      }
      if (typeof value === 'number' && value > largest) largest = value;
    },
  });
  return largest;
}

/**
 * Rejects a document with too many tokens with OPERATION_LIMIT_EXCEEDED
 * (HTTP 400) before it is parsed, and a `first` over the cap with
 * BAD_USER_INPUT and an operation over `maxCost` with OPERATION_LIMIT_EXCEEDED,
 * both before the gateway plans a single subgraph call. The other limits
 * are validation rules (`operationLimitRules`).
 *
 * Apollo reports an error thrown in `requestDidStart` or `parsingDidStart`
 * as a 500, so the token check swaps an oversized query for a one-token
 * placeholder (nothing big is ever parsed) and throws from
 * `didResolveOperation`, the first hook whose errors reach the client as
 * they are. The `first` check depends on variables, so it runs on every
 * request: one walk over an AST the other limits already bound.
 */
export function useOperationLimits<TContext extends BaseContext>({
  limits,
  hideLimits = false,
}: OperationLimitsOptions): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart({ request }) {
      if (request.query !== undefined && exceedsTokenLimit(request.query, limits.maxTokens)) {
        return refuseBeforeParsing(
          request,
          requestError(
            limitCode,
            hideLimits ? 'Query has too many tokens' : `Token limit of ${limits.maxTokens} exceeded.`,
          ),
        );
      }
      return {
        async didResolveOperation({ document, operation, request, schema }) {
          // The same answer the search subgraph would give (the cap is in the schema's description),
          // without planning the call or sending it.
          if (largestFirst(document, operation, request.variables) > limits.maxFirst) {
            throw requestError('BAD_USER_INPUT', `first must be between 1 and ${limits.maxFirst}`, {
              field: 'first',
            });
          }
          if (!operation) return;
          const cost = operationCost(schema, document, operation, request.variables);
          if (cost > limits.maxCost) throw requestError(limitCode, costMessage(limits, cost, hideLimits));
        },
      };
    },
  };
}

import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import {
  type DocumentNode,
  type GraphQLError,
  type GraphQLSchema,
  Kind,
  Lexer,
  Source,
  TokenKind,
  type ValidationRule,
  validate,
  visit,
} from 'graphql';
import { requestError } from '../../server/errors.ts';

export interface OperationLimits {
  /** Deepest selection, fragments flattened. Default 8 (a search page is 4 deep). */
  maxDepth: number;
  /** Aliased fields per operation, the usual way to multiply one expensive field. Default 15. */
  maxAliases: number;
  /** Lexical tokens in the document, checked before parsing builds an AST. Default 1000. */
  maxTokens: number;
  /** Directives per operation. Default 20. */
  maxDirectives: number;
  /** graphql-armor cost (objects 2, scalars 1, ×1.5 per level). Default 5000; the search page costs about 250. */
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
 * The graphql-armor validation rules for depth, aliases, directives and cost.
 * `exposeLimits: false` swaps armor's message (which states the number) for
 * ours. They are plain validation rules, so `pq:build` and its test run them
 * on the persisted operations too.
 */
export function operationLimitRules(limits: OperationLimits, hideLimits = false): ValidationRule[] {
  const common = { exposeLimits: !hideLimits, propagateOnRejection: true };
  return [
    maxDepthRule({ ...common, n: limits.maxDepth, errorMessage: 'Query is too deep' }),
    maxAliasesRule({ ...common, n: limits.maxAliases, errorMessage: 'Query has too many aliases' }),
    maxDirectivesRule({ ...common, n: limits.maxDirectives, errorMessage: 'Query has too many directives' }),
    costLimitRule({ ...common, maxCost: limits.maxCost, errorMessage: 'Query is too expensive' }),
  ];
}

/** Counts tokens without building an AST, stopping at the first one over the limit. */
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

function largestFirst(document: DocumentNode, variables: Record<string, unknown> | undefined): number {
  let largest = 0;
  visit(document, {
    Argument(node) {
      if (node.name.value !== 'first') return;
      let value: unknown;
      if (node.value.kind === Kind.INT) value = Number(node.value.value);
      else if (node.value.kind === Kind.VARIABLE) value = variables?.[node.value.name.value];
      if (typeof value === 'number' && value > largest) largest = value;
    },
  });
  return largest;
}

function stripArmorPrefix(error: GraphQLError): string {
  return error.message.replace(/^Syntax Error: /, '');
}

/**
 * Rejects operations over the configured limits with OPERATION_LIMIT_EXCEEDED
 * (HTTP 400), and a `first` over the cap with BAD_USER_INPUT, before the
 * gateway plans a single subgraph call.
 *
 * Tokens are counted in `parsingDidStart` and the armor rules run in
 * `validationDidStart`. Apollo calls both only when the document is not
 * already in its document store, so a document seen before (and every
 * persisted operation, see `persisted-operations.ts`) pays for neither. The
 * `first` check depends on variables, so it runs on every request; it is one
 * walk over an AST that is already bounded by the other limits.
 */
export function useOperationLimits<TContext extends BaseContext>({
  limits,
  hideLimits = false,
}: OperationLimitsOptions): ApolloServerPlugin<TContext> {
  const rules = operationLimitRules(limits, hideLimits);
  return {
    async requestDidStart() {
      return {
        async parsingDidStart({ source }) {
          if (exceedsTokenLimit(source, limits.maxTokens)) {
            throw requestError(
              limitCode,
              hideLimits ? 'Query has too many tokens' : `Token limit of ${limits.maxTokens} exceeded.`,
            );
          }
        },
        async validationDidStart({ schema, document }) {
          const [first] = validate(schema as GraphQLSchema, document, rules);
          if (first) throw requestError(limitCode, stripArmorPrefix(first));
        },
        async didResolveOperation({ document, request }) {
          // The same answer the search subgraph would give (the cap is in the schema's description),
          // without planning the call or sending it.
          if (largestFirst(document, request.variables) > limits.maxFirst) {
            throw requestError('BAD_USER_INPUT', `first must be between 1 and ${limits.maxFirst}`, {
              field: 'first',
            });
          }
        },
      };
    },
  };
}

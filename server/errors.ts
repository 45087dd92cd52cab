import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import type { Logger } from './logger.ts';

/**
 * Every error code a client can see, with the HTTP status it maps to when it
 * fails a whole request. Clients key on these codes, so they never change
 * meaning; messages may be reworded.
 */
export const publicErrorCodes = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  BAD_USER_INPUT: 400,
  NOT_FOUND: 404,
  VERSION_CONFLICT: 409,
  /** A write that would take the tenant past its documents or bytes quota; nothing was written. */
  QUOTA_EXCEEDED: 403,
  RATE_LIMITED: 429,
  SEARCH_UNAVAILABLE: 503,
  /** One search ran past SEARCH_QUERY_TIMEOUT_MS and was stopped; the same query would be stopped again. */
  SEARCH_TIMEOUT: 504,
  DOCUMENTS_UNAVAILABLE: 503,
  SUBGRAPH_UNAVAILABLE: 503,
  /**
   * A mutation was sent (to its subgraph, or by it to its store) but no answer came back (connection
   * lost, timeout): it may or may not have been applied. Retry it with the same idempotency key.
   */
  WRITE_OUTCOME_UNKNOWN: 503,
  /** The idempotency key was already used by the tenant for another mutation or input; nothing was written. */
  IDEMPOTENCY_KEY_REUSED: 409,
  /** No usable keys for the token's issuer: its identity provider is unreachable, not the token bad. */
  AUTH_UNAVAILABLE: 503,
  PERSISTED_QUERY_NOT_FOUND: 200,
  PERSISTED_QUERY_NOT_SUPPORTED: 200,
  PERSISTED_QUERY_NOT_IN_LIST: 400,
  PERSISTED_QUERY_ID_REQUIRED: 400,
  OPERATION_LIMIT_EXCEEDED: 400,
  /** The response would pass MAX_RESPONSE_BYTES; it is refused whole, never sent in part nor cached. */
  RESPONSE_TOO_LARGE: 400,
  /** Request bodies being read at once passed MAX_BUFFERED_BODY_BYTES; retry after `retry-after`. */
  SERVER_BUSY: 503,
  /** The gateway's per-request execution deadline (EXECUTION_TIMEOUT_MS) passed. */
  GATEWAY_TIMEOUT: 504,
  GRAPHQL_PARSE_FAILED: 400,
  GRAPHQL_VALIDATION_FAILED: 400,
  BAD_REQUEST: 400,
  OPERATION_RESOLUTION_FAILURE: 400,
  INTERNAL_SERVER_ERROR: 500,
} as const;

export type ErrorCode = keyof typeof publicErrorCodes;

/** Extension keys that are safe to show a client; everything else is dropped. */
const publicExtensionKeys = new Set(['code', 'field', 'retryAfterSeconds', 'currentVersion']);

export function quarryError(
  code: ErrorCode,
  message: string,
  extensions: Record<string, unknown> = {},
  nodes?: GraphQLError['nodes'],
): GraphQLError {
  return new GraphQLError(message, { nodes, extensions: { ...extensions, code } });
}

/** An error that rejects the whole HTTP request (before execution), with its status. */
export function requestError(
  code: ErrorCode,
  message: string,
  extensions: Record<string, unknown> = {},
): GraphQLError {
  return new GraphQLError(message, {
    extensions: { ...extensions, code, http: { status: publicErrorCodes[code] } },
  });
}

function isPublicCode(code: unknown): code is ErrorCode {
  return (
    typeof code === 'string' && Object.hasOwn(publicErrorCodes, code) && code !== 'INTERNAL_SERVER_ERROR'
  );
}

function isApolloRequestError(error: unknown): boolean {
  if (!(error instanceof GraphQLError) || error.extensions.code !== undefined) return false;
  const status = (error.extensions.http as { status?: unknown } | undefined)?.status;
  return typeof status === 'number' && status >= 400 && status < 500;
}

/**
 * The code a client sees for an error: its own when that is public, and
 * INTERNAL_SERVER_ERROR otherwise. The metrics and the request log count
 * errors by this too, so an error is classed the way its caller saw it.
 */
export function clientFacingCode(error: unknown): ErrorCode {
  const code = (error as { extensions?: { code?: unknown } } | null | undefined)?.extensions?.code;
  // Apollo relabels every validation rule's error GRAPHQL_VALIDATION_FAILED; a rule that reports
  // one of our coded errors (the operation limits) keeps its code, and its HTTP status stays 400.
  const inner = error instanceof GraphQLError ? error.originalError : undefined;
  if (code === 'GRAPHQL_VALIDATION_FAILED' && inner instanceof GraphQLError) {
    const innerCode = inner.extensions?.code;
    if (isPublicCode(innerCode) && publicErrorCodes[innerCode] === 400) return innerCode;
  }
  // Some of Apollo's own request errors (an APQ hash that does not match its query text) carry
  // only an HTTP 4xx status, and Apollo labels them INTERNAL_SERVER_ERROR: they are the client's.
  if (isApolloRequestError(error)) return 'BAD_REQUEST';
  return isPublicCode(code) ? code : 'INTERNAL_SERVER_ERROR';
}

/** graphql-js's suggestion, which names schema members: ` Did you mean "x"?` to the end of its sentence. */
const didYouMean = / ?Did you mean [^?]*\?/g;

/**
 * Apollo's `formatError`: errors with a public code keep their message and
 * safe extensions (with `hideSuggestions`, in production, without
 * "Did you mean …?"); anything else is logged in full and shown as a bare
 * INTERNAL_SERVER_ERROR, so driver messages and stack traces never leave.
 */
export function createErrorFormatter(logger: Logger, { hideSuggestions = false } = {}) {
  return (formatted: GraphQLFormattedError, original: unknown): GraphQLFormattedError => {
    const code = clientFacingCode(original);
    if (code !== 'INTERNAL_SERVER_ERROR') {
      // Apollo prefixes errors thrown while building the context (our authentication) with this.
      let message = formatted.message.replace(/^Context creation failed: /, '');
      // Apollo's hideSchemaDetailsFromClientErrors drops validation suggestions, not variable coercion's.
      if (hideSuggestions) message = message.replace(didYouMean, '');
      const extensions: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(formatted.extensions ?? {})) {
        if (publicExtensionKeys.has(key)) extensions[key] = value;
      }
      extensions.code = code;
      return { message, locations: formatted.locations, path: formatted.path, extensions };
    }
    logger.error({ err: original, path: formatted.path }, 'internal error');
    return {
      message: 'Internal server error',
      path: formatted.path,
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    };
  };
}

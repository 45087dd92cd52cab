import { clientFacingCode } from '../errors.ts';

/** The code of each error a request produced as its client saw it, which the metrics and log plugins report. */
export function errorCodes(errors: readonly Error[] | undefined): string[] {
  return (errors ?? []).map(clientFacingCode);
}

/**
 * What a cache module records on the request context so the log line can say how the request was
 * served; `refresh` is the gateway's own background run of a query whose cached response is about
 * to expire.
 */
export type CacheStatus = 'hit' | 'miss' | 'stale' | 'bypass' | 'refresh';

/** A finished request, as the metrics and the request log record it. */
export interface RequestOutcome {
  tenantId?: string;
  operationName?: string | null;
  /** `performance.now()` when the request started. */
  startedAt: number;
  cacheStatus?: CacheStatus;
  errors?: readonly Error[];
}

export interface ObservedContext {
  principal?: { tenantId: string };
  /** Set by the response cache when it exists; absent means no cache was consulted. */
  cacheStatus?: CacheStatus;
  /** The service's own request, not a client's (a response-cache refresh). */
  gatewayInitiated?: boolean;
}

/** Error codes that count against availability: the service failed, not the caller. */
export const serverErrorCodes: ReadonlySet<string> = new Set([
  'INTERNAL_SERVER_ERROR',
  'GATEWAY_TIMEOUT',
  'SEARCH_UNAVAILABLE',
  'DOCUMENTS_UNAVAILABLE',
  'SUBGRAPH_UNAVAILABLE',
  'WRITE_OUTCOME_UNKNOWN',
]);

export type RequestResult = 'ok' | 'client_error' | 'server_error';

/** `server_error` if any error is the service's fault, `client_error` if there are only others. */
export function classifyRequest(codes: readonly string[]): RequestResult {
  if (codes.some((code) => serverErrorCodes.has(code))) return 'server_error';
  return codes.length > 0 ? 'client_error' : 'ok';
}

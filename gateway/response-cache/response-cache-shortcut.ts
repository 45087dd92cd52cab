import { trace } from '@opentelemetry/api';
import Negotiator from 'negotiator';
import type { Shortcut } from '../../server/http/http-server.ts';
import type { Logger } from '../../server/logger.ts';
import type { ServiceMetrics } from '../../server/observability/metrics.ts';
import type { RequestOutcome } from '../../server/observability/request-outcome.ts';
import { recordRequest } from '../../server/observability/use-metrics.ts';
import { createRequestLog } from '../../server/observability/use-request-log.ts';
import { annotateRequestSpan } from '../../server/observability/use-span-attributes.ts';
import { type AdmissionCheck, admit } from '../admission/index.ts';
import type { GatewayContext } from '../context.ts';
import type { PersistedOperationStore } from '../persisted-operations/store.ts';
import { persistedQueryHash } from '../plugins/persisted-operations.ts';
import { type ResponseCache, requestIdentity } from './response-cache.ts';

export interface ResponseCacheShortcutOptions {
  responseCache: ResponseCache;
  /** The manifest: a safelisted id stands for its text in the cache key. */
  operationStore: PersistedOperationStore;
  /** The gateway's admission, the same list Apollo's path runs. */
  admission: readonly AdmissionCheck[];
  metrics: ServiceMetrics;
  logger: Logger;
}

interface CacheableRequest {
  query?: string;
  persistedId?: string;
  operationName?: string | null;
  variables?: Record<string, unknown> | null;
}

/** Apollo's single-result media types, in its order of preference, so a hit negotiates as Apollo would. */
const mediaTypes = [
  'application/json; charset=utf-8',
  'application/graphql-response+json; charset=utf-8',
  'application/json; callbackSpec=1.0; charset=utf-8',
];

function contentTypeFor(accept: string | undefined): string | undefined {
  if (!accept) return mediaTypes[0];
  const chosen = new Negotiator({ headers: { accept } }).mediaType(mediaTypes);
  // The subscription-callback type is Apollo's business; such a request takes the full path.
  return chosen === mediaTypes[2] ? undefined : chosen;
}

/**
 * A request the cache can answer: text or a persisted id (not both: that
 * registers an APQ id, and Apollo checks the pair), well-typed fields.
 * Anything else takes the full path, where Apollo reports what is wrong.
 */
function cacheableRequest(body: unknown): CacheableRequest | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const { query, operationName, variables, extensions } = body as Record<string, unknown>;
  if (query !== undefined && typeof query !== 'string') return undefined;
  if (operationName != null && typeof operationName !== 'string') return undefined;
  if (variables != null && (typeof variables !== 'object' || Array.isArray(variables))) return undefined;
  if (extensions != null && (typeof extensions !== 'object' || Array.isArray(extensions))) return undefined;
  const persisted = (
    extensions as { persistedQuery?: { version?: unknown; sha256Hash?: unknown } } | undefined
  )?.persistedQuery;
  // Apollo refuses an extension without a string hash, even beside query text: so does a hit.
  if (persisted !== undefined && (persisted?.version !== 1 || typeof persisted.sha256Hash !== 'string'))
    return undefined;
  const persistedId = persistedQueryHash(extensions as Record<string, unknown> | undefined);
  if ((query === undefined) === (persistedId === undefined)) return undefined;
  return {
    query,
    persistedId,
    operationName,
    variables: variables as Record<string, unknown> | null | undefined,
  };
}

/**
 * Answers response cache hits before Apollo Server, which spends several
 * times a hit's own cost on its request pipeline. A hit is served only after
 * a verified token and the gateway's admission, the same list Apollo's path
 * runs (`gatewayAdmission`). The rest of what Apollo checks depends only on
 * the request itself (its text or persisted id, operation name and
 * variables), which is the cache key within the tenant: a request that is in
 * the cache already passed it. Hits are counted, logged and put on the span
 * like any request.
 *
 * A hit in the entry's last RESPONSE_CACHE_REFRESH_SECONDS also runs the
 * request through Apollo in the background, as its caller, so that the
 * response cache plugin stores a fresh entry before this one expires.
 *
 * Anything else goes on to Apollo, in the request's context (so a client
 * that leaves still stops its subgraph queries): a miss, with the ticket
 * under which the response cache plugin stores the answer; a hit
 * that admission refused, with the verdict, which Apollo reports as it would
 * its own (so refusals look and are counted the same on both paths, and
 * nothing is charged twice); an unusual request, for Apollo to judge.
 */
export function createResponseCacheShortcut({
  responseCache,
  operationStore,
  admission,
  metrics,
  logger,
}: ResponseCacheShortcutOptions): Shortcut<GatewayContext> {
  const logRequest = createRequestLog(logger, 'info');
  return async (request, response, body, context, runInBackground) => {
    const startedAt = performance.now();
    // Exactly JSON: any other type (`text/plain; x=application/json`) is Apollo's to refuse as a possible CSRF.
    const mediaType = request.headers['content-type']?.split(';', 1)[0]?.trim().toLowerCase();
    const cacheable = mediaType === 'application/json' ? cacheableRequest(body) : undefined;
    const contentType = cacheable && contentTypeFor(request.headers.accept);
    if (!cacheable || !contentType) return { answered: false };
    const { principal, clientGone } = context;
    // A safelisted id stands for its text: dropped from the manifest, it no longer finds its entries.
    const safelisted = cacheable.query === undefined && operationStore.get(cacheable.persistedId ?? '');
    const identity = requestIdentity(safelisted ? { ...cacheable, query: safelisted.body } : cacheable);
    const lookup = await responseCache.lookup(principal.tenantId, identity);
    if (!('hit' in lookup)) {
      const responseCacheTicket = 'miss' in lookup ? lookup.miss : undefined;
      return {
        answered: false,
        context: { ...context, cacheStatus: 'miss', responseCacheTicket, responseToKeep: {} },
      };
    }
    const { hit, refresh } = lookup;
    const verdict = await admit(admission, { principal, ...cacheable, clientGone });
    if ('refused' in verdict) {
      if (refresh) responseCache.refreshEnded(refresh);
      return { answered: false, context: { ...context, admission: verdict } };
    }

    // As Apollo answers (status, content type, no-store), with a content-length, not chunked.
    response.statusCode = 200;
    response.setHeader('content-type', contentType);
    response.setHeader('cache-control', 'no-store');
    response.end(hit.body);
    const outcome: RequestOutcome = {
      tenantId: principal.tenantId,
      operationName: hit.operationName,
      startedAt,
      cacheStatus: 'hit',
    };
    responseCache.events.cacheLookup('response', refresh ? 'refresh' : 'hit');
    if (refresh) {
      // Admitted by the hit that started it, which is also the request the metrics count.
      runInBackground({
        principal,
        cacheStatus: 'refresh',
        responseCacheTicket: refresh,
        responseToKeep: {},
        admission: verdict,
        gatewayInitiated: true,
      })
        .catch((error: unknown) => logger.warn({ err: error }, 'response cache refresh failed'))
        .finally(() => responseCache.refreshEnded(refresh));
    }
    recordRequest(metrics, outcome);
    logRequest(outcome);
    const span = trace.getActiveSpan();
    if (span) annotateRequestSpan(span, outcome);
    return { answered: true };
  };
}

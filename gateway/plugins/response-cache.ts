import { createHash } from 'node:crypto';
import type { ApolloServerPlugin } from '@apollo/server';
import { HeaderMap } from '@apollo/server';
import { type Cache, searchGenerationKey, tenantKey } from '../../server/cache/cache.ts';
import { noOperationalEvents, type OperationalEvents } from '../../server/observability/events.ts';
import type { GatewayContext } from '../context.ts';

export interface ResponseCacheOptions {
  /** Where responses live: Redis when REDIS_URL is set (shared by replicas), the in-process LRU otherwise. */
  cache: Cache;
  /**
   * How long a response is served again, in seconds. Default 5
   * (RESPONSE_CACHE_TTL_SECONDS). Kept short: writes that reach the index
   * without a gateway mutation or an indexer bump (see below) are only
   * seen once it expires.
   */
  ttlSeconds?: number;
  /** Where hits and misses are reported. Default: nowhere. */
  events?: OperationalEvents;
}

const generationKey = (tenantId: string) => tenantKey(tenantId, 'response-generation');

/**
 * Whole query responses per tenant, for a few seconds: the same search
 * asked again within the TTL costs two cache reads, with no query plan and
 * no subgraph call.
 *
 * The key is the tenant, two per-tenant generations, and a hash of the
 * query text (Apollo's `queryHash`), the operation name and the variables.
 * Every mutation this gateway runs bumps the tenant's response generation
 * once it has run (also when it failed, since it may have committed), before
 * its response is sent, so the client that wrote never reads a response
 * cached before its write. The indexer bumps the tenant's search generation
 * once the write is searchable, so a search cached between the write and its
 * indexing is dropped then too, and a write stays searchable within the
 * indexer's lag. Both counters live in the shared cache (Redis), so this
 * holds across replicas; without Redis the gateway and indexer share them
 * only when they run in one process (`npm start`). Writes that reach the
 * index some other way (imports, reindexing) are seen after `ttlSeconds`.
 * Orphaned entries expire by TTL; nothing scans keys.
 *
 * Only complete answers are stored: no errors, no partial data, and no
 * `stale: true` page (served while the search backend is down). Hits are
 * served from `responseForOperation`, after authentication, the scope
 * check, the rate limit and the operation limits have run on the request
 * (all of them cheap: Apollo's document store already skips parsing and
 * validation of a query it has seen), and before planning or execution.
 */
export function useResponseCache({
  cache,
  ttlSeconds = 5,
  events = noOperationalEvents,
}: ResponseCacheOptions): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      let storeUnder: string | undefined;
      return {
        async responseForOperation({ contextValue, operation, queryHash, request }) {
          if (operation?.operation !== 'query') {
            contextValue.cacheStatus = 'bypass';
            return null;
          }
          const { tenantId } = contextValue.principal;
          const requestHash = createHash('sha256')
            .update(
              `${queryHash}\n${request.operationName ?? ''}\n${JSON.stringify(request.variables ?? {})}`,
            )
            .digest('base64url');
          try {
            const [responses = '0', searches = '0'] = await cache.getMany([
              generationKey(tenantId),
              searchGenerationKey(tenantId),
            ]);
            const key = tenantKey(tenantId, 'response', `${responses}.${searches}`, requestHash);
            const hit = await cache.get(key);
            if (hit !== undefined) {
              contextValue.cacheStatus = 'hit';
              events.cacheLookup('response', 'hit');
              return {
                http: { status: undefined, headers: new HeaderMap() },
                body: { kind: 'single', singleResult: JSON.parse(hit) },
              };
            }
            storeUnder = key;
          } catch {
            // A cache that fails is a miss, and nothing is stored without knowing the generation.
            events.cacheLookup('response', 'error');
          }
          contextValue.cacheStatus = 'miss';
          if (storeUnder) events.cacheLookup('response', 'miss');
          return null;
        },
        async willSendResponse({ contextValue, operation, response }) {
          if (operation?.operation === 'mutation') {
            // Awaited, so the writer's next read cannot find a response cached before its write. If
            // Redis is down the bump is lost, and responses cached before it live out their TTL.
            await cache.increment(generationKey(contextValue.principal.tenantId)).catch(() => {});
            return;
          }
          if (!storeUnder || response.body.kind !== 'single') return;
          const { singleResult } = response.body;
          if (singleResult.errors || !singleResult.data) return;
          if (contextValue.servedStale) return;
          const text = JSON.stringify(singleResult);
          // Not awaited: the client need not wait for the cache write.
          void cache.set(storeUnder, text, ttlSeconds).catch(() => {});
        },
      };
    },
  };
}

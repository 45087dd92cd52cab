import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.ts';
import { instrumentPort } from '../observability/instrument-port.ts';
import type { Resilience } from '../resilience/policy.ts';
import { type Cache, isGenerationKey } from './cache.ts';
import { withClientSideCaching } from './client-side-cache.ts';
import { createMemoryCache } from './memory-cache.ts';
import { createRedisCache } from './redis-cache.ts';
import { createRedisClient } from './redis-client.ts';
import { resilientCache } from './resilient-cache.ts';

export { type Cache, tenantKey } from './cache.ts';
export { createKeyValueCache } from './key-value-cache.ts';
export { createMemoryCache } from './memory-cache.ts';
export { createRedisCache } from './redis-cache.ts';
export { createRedisClient } from './redis-client.ts';
export { resilientCache } from './resilient-cache.ts';

export interface CacheConfig {
  redisUrl: string | undefined;
  redisCaPath?: string | undefined;
  redisCommandTimeoutMs: number;
  redisClientTracking: boolean;
  memoryMaxEntries: number;
  memoryMaxBytes: number;
}

export interface OpenedCache {
  /** Already under the `redis` policy when Redis is configured. */
  cache: Cache;
  /** The client, when there is one, for readiness and for the rate limiter. */
  redis: Redis | undefined;
  /** With Redis client-side caching configured: whether kept generations are being served now (for readiness). */
  clientTracking?: () => boolean;
  close(): Promise<void>;
}

/** How often each process pings Redis on its invalidation connection (see `withClientSideCaching`). */
const heartbeatMs = 100;

/**
 * The cache configuration selects: Redis when REDIS_URL is set, an
 * in-process LRU otherwise. Either way each cache call is a `cache.*` span,
 * so a request's trace shows its cache lookups beside its backend calls
 * (with Redis, the ioredis instrumentation's spans nest under them).
 */
export function openCache(
  config: CacheConfig,
  resilience: Resilience,
  logger: Logger,
  /** Used instead of a new LRU when there is no Redis, so services in one process share it. */
  memoryCache?: Cache,
): OpenedCache {
  if (!config.redisUrl) {
    return {
      cache: traced(
        memoryCache ??
          createMemoryCache({ maxEntries: config.memoryMaxEntries, maxBytes: config.memoryMaxBytes }),
      ),
      redis: undefined,
      close: async () => {},
    };
  }
  const redis = createRedisClient({
    url: config.redisUrl,
    commandTimeoutMs: config.redisCommandTimeoutMs,
    logger,
    ca: config.redisCaPath ? readFileSync(config.redisCaPath) : undefined,
  });
  const policy = resilience.policy('redis');
  const shared = resilientCache(createRedisCache({ redis }), policy);
  const cache = config.redisClientTracking
    ? withClientSideCaching({
        cache: shared,
        redis,
        isKept: isGenerationKey,
        policy,
        logger,
        // Silent for one heartbeat plus a command timeout: what a command would have waited anyway.
        maxSilenceMs: heartbeatMs + config.redisCommandTimeoutMs,
        heartbeatMs,
      })
    : undefined;
  return {
    cache: traced(cache ?? shared),
    redis,
    clientTracking: cache && (() => cache.tracking),
    async close() {
      await cache?.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
export type { StringKeyValueCache } from './key-value-cache.ts';

const traced = (cache: Cache) => instrumentPort(cache, { dependency: 'cache', recordTenant: false });

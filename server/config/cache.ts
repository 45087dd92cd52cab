import { z } from 'zod';
import { defineConcern } from './concern.ts';
import { positiveInt } from './variables.ts';

/** Also read by the gateway concern, which bounds it by MAX_RESPONSE_BYTES. */
export const responseCacheMaxEntryBytes = positiveInt(1024 * 1024);

/** Also read by the backends concern: a point in time must outlive a first page cached at both levels. */
export const searchCacheTtlSeconds = positiveInt(60);
export const responseCacheTtlSeconds = z.coerce.number().int().min(0).max(300).default(60);

/** Redis, the in-process cache, cache lifetimes, persisted-query (APQ), whole-response and entity caching. */
export const cacheConcern = defineConcern({
  shape: {
    REDIS_URL: z.url().optional(),
    REDIS_CA_FILE: z.string().min(1).optional(),
    REDIS_COMMAND_TIMEOUT_MS: positiveInt(250),
    REDIS_CLIENT_TRACKING: z.stringbool().default(true),
    CACHE_MEMORY_MAX_ENTRIES: positiveInt(10_000),
    CACHE_MEMORY_MAX_MB: z.coerce.number().positive().max(65_536).default(64),
    CACHE_SEARCH_TTL_SECONDS: searchCacheTtlSeconds,
    CACHE_STALE_TTL_SECONDS: positiveInt(86_400),
    CACHE_DOCUMENT_TTL_SECONDS: positiveInt(300),
    APQ_TTL_SECONDS: positiveInt(86_400),
    RESPONSE_CACHE_TTL_SECONDS: responseCacheTtlSeconds,
    RESPONSE_CACHE_REFRESH_SECONDS: z.coerce.number().min(0).max(300).default(2),
    RESPONSE_CACHE_NEAR_MAX_MB: z.coerce.number().min(0).max(65_536).default(64),
    RESPONSE_CACHE_MAX_ENTRY_BYTES: responseCacheMaxEntryBytes,
    // Off unless asked for: it costs every uncached page lookups and stores, and saves a call only when a
    // page's documents are all cached under the tenant's current generations (docs/benchmarks.md).
    ENTITY_CACHE_TTL_SECONDS: z.coerce.number().int().min(0).max(300).default(0),
    ENTITY_CACHE_MAX_ENTRY_BYTES: positiveInt(64 * 1024),
  },
  check(env, context) {
    if (
      env.RESPONSE_CACHE_TTL_SECONDS > 0 &&
      env.RESPONSE_CACHE_REFRESH_SECONDS >= env.RESPONSE_CACHE_TTL_SECONDS
    ) {
      context.addIssue({
        code: 'custom',
        path: ['RESPONSE_CACHE_REFRESH_SECONDS'],
        message: 'must be less than RESPONSE_CACHE_TTL_SECONDS (0 turns refreshing off)',
      });
    }
  },
  section: (env) => ({
    cache: {
      redisUrl: env.REDIS_URL,
      /** Trust anchor for a rediss:// REDIS_URL signed by a private CA. */
      redisCaPath: env.REDIS_CA_FILE,
      redisCommandTimeoutMs: env.REDIS_COMMAND_TIMEOUT_MS,
      /** Generation counters held in process while Redis tracks them (CLIENT TRACKING). */
      redisClientTracking: env.REDIS_CLIENT_TRACKING,
      memoryMaxEntries: env.CACHE_MEMORY_MAX_ENTRIES,
      /** The in-process cache's total size, keys and values, when REDIS_URL is unset. */
      memoryMaxBytes: env.CACHE_MEMORY_MAX_MB * 1024 * 1024,
      searchTtlSeconds: env.CACHE_SEARCH_TTL_SECONDS,
      staleTtlSeconds: env.CACHE_STALE_TTL_SECONDS,
      documentTtlSeconds: env.CACHE_DOCUMENT_TTL_SECONDS,
      apqTtlSeconds: env.APQ_TTL_SECONDS,
      /** Whole query responses at the gateway; 0 turns the response cache off. */
      responseTtlSeconds: env.RESPONSE_CACHE_TTL_SECONDS,
      responseRefreshSeconds: env.RESPONSE_CACHE_REFRESH_SECONDS,
      /** Bytes of cached responses each gateway keeps in process in front of Redis; 0 keeps none. */
      responseNearMaxBytes: env.RESPONSE_CACHE_NEAR_MAX_MB * 1024 * 1024,
      /** Larger responses are sent but not cached, in Redis or in process. */
      responseMaxEntryBytes: env.RESPONSE_CACHE_MAX_ENTRY_BYTES,
      /** `Document` entities at the gateway; 0 turns the entity cache off. */
      entityTtlSeconds: env.ENTITY_CACHE_TTL_SECONDS,
      /** Larger entities are used but not cached. */
      entityMaxEntryBytes: env.ENTITY_CACHE_MAX_ENTRY_BYTES,
    },
  }),
});

export type CacheSection = ReturnType<typeof cacheConcern.section>;

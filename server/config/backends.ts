import { z } from 'zod';
import { responseCacheTtlSeconds, searchCacheTtlSeconds } from './cache.ts';
import { defineConcern } from './concern.ts';
import { positiveInt, timeUnit } from './variables.ts';

/** Production backends: setting the URL selects the backend; without it the embedded one stays in use. */
export const backendsConcern = defineConcern({
  shape: {
    MONGO_URL: z
      .string()
      .regex(/^mongodb(\+srv)?:\/\//, 'must be a mongodb:// or mongodb+srv:// connection string')
      .optional(),
    MONGO_DATABASE: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,63}$/, 'letters, digits, _ and - only')
      .default('quarry'),
    MONGO_MAX_POOL_SIZE: positiveInt(20),
    MONGO_SERVER_SELECTION_TIMEOUT_MS: positiveInt(3000),
    MONGO_TIMEOUT_MS: positiveInt(5000),
    ELASTICSEARCH_URL: z
      .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
      .optional(),
    ELASTICSEARCH_API_KEY: z.string().min(1).optional(),
    ELASTICSEARCH_CA_FILE: z.string().min(1).optional(),
    ELASTICSEARCH_INDEX_PREFIX: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,100}$/, 'lower-case letters, digits, _ and - only')
      .default('quarry-documents'),
    ELASTICSEARCH_REQUEST_TIMEOUT_MS: positiveInt(5000),
    // 0: reads are retried by the search-index policy, writes by the indexer; a third layer would multiply them.
    ELASTICSEARCH_MAX_RETRIES: z.coerce.number().int().min(0).max(10).default(0),
    ELASTICSEARCH_PIT_KEEP_ALIVE_SECONDS: positiveInt(300),
    CACHE_SEARCH_TTL_SECONDS: searchCacheTtlSeconds,
    RESPONSE_CACHE_TTL_SECONDS: responseCacheTtlSeconds,
    ELASTICSEARCH_SHARDS: positiveInt(1),
    ELASTICSEARCH_REPLICAS: z.coerce.number().int().min(0).max(10).default(1),
    ELASTICSEARCH_ROLLOVER_MAX_PRIMARY_SHARD_SIZE: z
      .string()
      .regex(/^\d+(b|kb|mb|gb|tb)$/, 'a byte size such as 50gb')
      .default('50gb'),
    ELASTICSEARCH_ROLLOVER_MAX_AGE: timeUnit('30d'),
    ELASTICSEARCH_WARM_AFTER: timeUnit('7d'),
    ELASTICSEARCH_COLD_AFTER: timeUnit('90d'),
  },
  check(env, context) {
    // A first page served from the caches carries its point in time: it must still be open when the client
    // asks for the next page, or the client would start again into the same cached page. Only Elasticsearch
    // pages in points in time.
    if (
      env.ELASTICSEARCH_URL &&
      env.ELASTICSEARCH_PIT_KEEP_ALIVE_SECONDS <=
        env.CACHE_SEARCH_TTL_SECONDS + env.RESPONSE_CACHE_TTL_SECONDS
    ) {
      context.addIssue({
        code: 'custom',
        path: ['ELASTICSEARCH_PIT_KEEP_ALIVE_SECONDS'],
        message:
          'must be more than CACHE_SEARCH_TTL_SECONDS + RESPONSE_CACHE_TTL_SECONDS (a cached page keeps its point in time)',
      });
    }
  },
  section: (env) => ({
    mongo: env.MONGO_URL
      ? {
          url: env.MONGO_URL,
          database: env.MONGO_DATABASE,
          maxPoolSize: env.MONGO_MAX_POOL_SIZE,
          serverSelectionTimeoutMs: env.MONGO_SERVER_SELECTION_TIMEOUT_MS,
          timeoutMs: env.MONGO_TIMEOUT_MS,
        }
      : undefined,
    elasticsearch: env.ELASTICSEARCH_URL
      ? {
          url: env.ELASTICSEARCH_URL,
          apiKey: env.ELASTICSEARCH_API_KEY,
          /** Trust anchor for an https:// ELASTICSEARCH_URL signed by a private CA. */
          caPath: env.ELASTICSEARCH_CA_FILE,
          indexPrefix: env.ELASTICSEARCH_INDEX_PREFIX,
          requestTimeoutMs: env.ELASTICSEARCH_REQUEST_TIMEOUT_MS,
          maxRetries: env.ELASTICSEARCH_MAX_RETRIES,
          pointInTimeKeepAliveSeconds: env.ELASTICSEARCH_PIT_KEEP_ALIVE_SECONDS,
          shards: env.ELASTICSEARCH_SHARDS,
          replicas: env.ELASTICSEARCH_REPLICAS,
          rolloverMaxPrimaryShardSize: env.ELASTICSEARCH_ROLLOVER_MAX_PRIMARY_SHARD_SIZE,
          rolloverMaxAge: env.ELASTICSEARCH_ROLLOVER_MAX_AGE,
          warmAfter: env.ELASTICSEARCH_WARM_AFTER,
          coldAfter: env.ELASTICSEARCH_COLD_AFTER,
        }
      : undefined,
  }),
});

export type BackendsSection = ReturnType<typeof backendsConcern.section>;
export type MongoConfig = NonNullable<BackendsSection['mongo']>;
export type ElasticsearchConfig = NonNullable<BackendsSection['elasticsearch']>;

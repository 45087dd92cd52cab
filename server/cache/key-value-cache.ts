import type { KeyValueCache, KeyValueCacheSetOptions } from '@apollo/utils.keyvaluecache';
import type { Cache } from './cache.ts';

/**
 * Apollo's KeyValueCache over the Cache port, for automatic persisted
 * queries. A failing cache reads as a miss and drops writes: the client then
 * sends the full query (PERSISTED_QUERY_NOT_FOUND), which is APQ's own fallback.
 */
export function createKeyValueCache(
  cache: Cache,
  prefix: string,
  defaultTtlSeconds = 300,
): KeyValueCache<string> {
  return {
    get: (key) => cache.get(`${prefix}:${key}`).catch(() => undefined),
    async set(key, value, options?: KeyValueCacheSetOptions) {
      await cache.set(`${prefix}:${key}`, value, options?.ttl ?? defaultTtlSeconds).catch(() => {});
    },
    async delete(key) {
      await cache.delete([`${prefix}:${key}`]).catch(() => {});
      return true;
    },
  };
}

import type { Cache } from './cache.ts';

/**
 * Apollo's `KeyValueCache<string>`, written out structurally: its package
 * (`@apollo/utils.keyvaluecache`) is only a transitive dependency, in two
 * major versions, so Quarry does not import it.
 */
export interface StringKeyValueCache {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, options?: { ttl?: number | null }): Promise<void>;
  delete(key: string): Promise<boolean | undefined>;
}

/**
 * Apollo's KeyValueCache over the Cache port, for automatic persisted
 * queries. A failing cache reads as a miss and drops writes: the client then
 * sends the full query (PERSISTED_QUERY_NOT_FOUND), which is APQ's own fallback.
 * Callers that keep tenants apart put the tenant in the key, as the APQ
 * plugin does.
 */
export function createKeyValueCache(
  cache: Cache,
  /** Put before every key; none when callers build whole keys themselves (`tenantKey`). */
  prefix?: string,
  defaultTtlSeconds = 300,
): StringKeyValueCache {
  const keyOf = (key: string) => (prefix ? `${prefix}:${key}` : key);
  return {
    get: (key) => cache.get(keyOf(key)).catch(() => undefined),
    async set(key, value, options) {
      await cache.set(keyOf(key), value, options?.ttl ?? defaultTtlSeconds).catch(() => {});
    },
    async delete(key) {
      await cache.delete([keyOf(key)]).catch(() => {});
      return true;
    },
  };
}

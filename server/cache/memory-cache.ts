import { LRUCache } from 'lru-cache';
import type { Cache } from './cache.ts';

export interface MemoryCacheOptions {
  /** Entries kept before the least recently used go. Default 10,000. */
  maxEntries?: number;
}

/**
 * The cache when no Redis is configured: per process, so replicas do not
 * share it, and generation counters only invalidate what this process cached.
 * The dev stack runs every service in one process and shares one instance.
 */
export function createMemoryCache({ maxEntries = 10_000 }: MemoryCacheOptions = {}): Cache {
  const entries = new LRUCache<string, string>({ max: maxEntries, ttlAutopurge: false });
  return {
    name: 'memory',
    get: async (key) => entries.get(key),
    getMany: async (keys) => keys.map((key) => entries.get(key)),
    async set(key, value, ttlSeconds) {
      entries.set(key, value, { ttl: ttlSeconds * 1000 });
    },
    async delete(keys) {
      for (const key of keys) entries.delete(key);
    },
    async increment(key) {
      const next = Number(entries.get(key) ?? 0) + 1;
      // Counters never expire on their own: losing one would resurrect entries of an old generation.
      entries.set(key, String(next), { ttl: 0 });
      return next;
    },
  };
}

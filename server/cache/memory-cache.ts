import { LRUCache } from 'lru-cache';
import { type Cache, counterEpoch, parseVersionedValue, versionedValue } from './cache.ts';

export interface MemoryCacheOptions {
  /** Entries kept before the least recently used go. Default 10,000. */
  maxEntries?: number;
  /**
   * Total size of keys and values, counted in UTF-16 units (bytes for the
   * ASCII that keys and JSON mostly are). A value that alone passes it is not
   * stored. Default 64 MiB (CACHE_MEMORY_MAX_MB).
   */
  maxBytes?: number;
}

/**
 * The cache when no Redis is configured: per process, so replicas do not
 * share it, and generation counters only invalidate what this process cached.
 * The dev stack runs every service in one process and shares one instance.
 */
export function createMemoryCache({
  maxEntries = 10_000,
  maxBytes = 64 * 1024 * 1024,
}: MemoryCacheOptions = {}): Cache {
  const entries = new LRUCache<string, string>({
    max: maxEntries,
    maxSize: maxBytes,
    sizeCalculation: (value, key) => Math.max(1, value.length + key.length),
    ttlAutopurge: false,
  });
  // Generation counters (one per tenant and kind) stay out of the LRU: an evicted counter would read 0
  // again and bring back every entry cached under an old generation.
  const counters = new Map<string, number>();
  const read = (key: string) => {
    const counter = counters.get(key);
    return counter === undefined ? entries.get(key) : String(counter);
  };
  return {
    name: 'memory',
    get: async (key) => read(key),
    getMany: async (keys) => keys.map(read),
    async set(key, value, ttlSeconds) {
      entries.set(key, value, { ttl: ttlSeconds * 1000 });
    },
    async setMany(stored, ttlSeconds) {
      for (const { key, value } of stored) entries.set(key, value, { ttl: ttlSeconds * 1000 });
    },
    async delete(keys) {
      for (const key of keys) {
        entries.delete(key);
        counters.delete(key);
      }
    },
    async increment(key) {
      const next = (counters.get(key) ?? counterEpoch()) + 1;
      counters.set(key, next);
      return next;
    },
    async readCounter(key) {
      const value = counters.get(key) ?? counterEpoch();
      counters.set(key, value);
      return String(value);
    },
    // Atomic as it stands: nothing awaits between the comparison and the write.
    async setNewer(key, version, value, ttlSeconds) {
      const current = entries.get(key);
      const held = current === undefined ? undefined : parseVersionedValue(current);
      if (held && held.version > version) return;
      entries.set(key, versionedValue(version, value), { ttl: ttlSeconds * 1000 });
    },
  };
}

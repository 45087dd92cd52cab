import { randomInt } from 'node:crypto';

/**
 * The cache port: string values under string keys with a TTL, plus an atomic
 * counter for invalidation by generation. Adapters: Redis (shared by every
 * replica) and an in-process LRU (when REDIS_URL is unset).
 *
 * A cache is an optimisation, never a source of truth: callers treat a
 * failure as a miss (see `resilientCache`), so Redis being down costs
 * latency and load, not answers.
 */
export interface Cache {
  readonly name: string;
  get(key: string): Promise<string | undefined>;
  getMany(keys: readonly string[]): Promise<(string | undefined)[]>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  /** Stores every entry under the same TTL in one command: a page's worth of entities costs one call, not one each. */
  setMany(entries: readonly CacheEntry[], ttlSeconds: number): Promise<void>;
  delete(keys: readonly string[]): Promise<void>;
  /** Atomically adds one and returns the new value; a missing counter first starts at a random epoch. */
  increment(key: string): Promise<number>;
  /**
   * The counter's value, started at a random epoch when missing. A counter
   * lost with the cache's data (a restart, FLUSHALL, an eviction) so comes
   * back at a value that nothing cached under the lost one carries, rather
   * than at a value it had before a write.
   */
  readCounter(key: string): Promise<string>;
  /**
   * Atomically stores `value` under the key as a versioned value
   * (`versionedValue`), unless the key holds one of a higher version. A
   * slow reader therefore cannot put back a version older than one a
   * writer stored after it read.
   */
  setNewer(key: string, version: number, value: string, ttlSeconds: number): Promise<void>;
}

export interface CacheEntry {
  key: string;
  value: string;
}

/** A random start for a missing counter: far from any value a counter reaches by increments. */
export const counterEpoch = (): number => randomInt(1, 2 ** 47);

/** How `setNewer` stores a value: its version, a colon, then the value. */
export const versionedValue = (version: number, value: string): string => `${version}:${value}`;

/** The version and value `setNewer` stored, or undefined for anything else. */
export function parseVersionedValue(stored: string): { version: number; value: string } | undefined {
  const colon = stored.indexOf(':');
  const version = Number(stored.slice(0, colon));
  if (colon <= 0 || !Number.isSafeInteger(version)) return undefined;
  return { version, value: stored.slice(colon + 1) };
}

/**
 * Every key starts with the tenant, encoded so no tenant id can forge
 * another's prefix (`a:b` becomes `a%3Ab`). Nothing builds a key without it.
 */
export function tenantKey(tenantId: string, ...parts: string[]): string {
  return ['quarry', encodeURIComponent(tenantId), ...parts].join(':');
}

/**
 * A tenant's search generation: the indexer bumps it once it has applied the
 * tenant's changes. Every cached search page and every cached gateway
 * response that may contain search results is keyed under it, so a write is
 * never hidden by the cache once it is searchable.
 */
export const searchGenerationKey = (tenantId: string) => tenantKey(tenantId, 'search-generation');

/**
 * A tenant's response generation: every mutation the gateway runs bumps it,
 * and every cached gateway response is served only under the value it was
 * computed under.
 */
export const responseGenerationKey = (tenantId: string) => tenantKey(tenantId, 'response-generation');

/**
 * Whether the key is one of the generation counters above: small, read on
 * every cached request, written only when a tenant's data changes, and so
 * worth a copy in process (see `withClientSideCaching`). The tenant segment
 * is URI-encoded, so no other key has exactly three segments ending so.
 */
export function isGenerationKey(key: string): boolean {
  const tenantEnd = key.indexOf(':', 'quarry:'.length);
  return (
    key.startsWith('quarry:') &&
    tenantEnd === key.lastIndexOf(':') &&
    (key.endsWith(':search-generation') || key.endsWith(':response-generation'))
  );
}

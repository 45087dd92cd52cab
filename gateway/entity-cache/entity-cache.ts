import { type Cache, tenantKey } from '../../server/cache/cache.ts';
import type { GenerationBumps } from '../../server/cache/generation-bumps.ts';
import { noOperationalEvents, type OperationalEvents } from '../../server/observability/events.ts';
import { readGenerations } from '../response-cache/response-cache.ts';

export interface EntityCacheOptions {
  /** Where entities live: Redis when REDIS_URL is set (shared by replicas), the in-process LRU otherwise. */
  cache: Cache;
  /** How long an entity is served again, in seconds (ENTITY_CACHE_TTL_SECONDS). */
  ttlSeconds: number;
  /** An entity whose JSON is longer than this is used but never stored (ENTITY_CACHE_MAX_ENTRY_BYTES). */
  maxEntryBytes: number;
  /** The bumps of the tenants' response generation, shared with the response cache and the write plugin. */
  bumps: GenerationBumps;
  /** Where hits, misses and failed lookups are counted (`cache="entity"`). Default: nowhere. */
  events?: OperationalEvents;
}

/** Which entities of a tenant a lookup is about: under which generations, for which selection. */
export interface EntityScope {
  tenantId: string;
  /** The tenant's generations read before the fetch (`StoreTicket.generations`, or `generations()`). */
  generations: string;
  /** A hash of the subgraph query that fetches them: two selections never share an entry. */
  selection: string;
}

export interface EntityCache {
  /** The tenant's current generations; undefined when they cannot be read or a bump is owed. */
  generations(tenantId: string): Promise<string | undefined>;
  /**
   * Each id's cached entity as the subgraph sent it (JSON text), in `ids`
   * order, undefined where missing. A failed lookup is all misses.
   */
  lookup(scope: EntityScope, ids: readonly string[]): Promise<(string | undefined)[]>;
  /** Not awaited by callers: the client need not wait for the cache write. */
  store(scope: EntityScope, entities: readonly { id: string; json: string }[]): Promise<void>;
}

/**
 * Entities the gateway fetched from a subgraph (`_entities`), per tenant.
 *
 * Each key holds the tenant, the selection, the two per-tenant generations
 * the response cache reads, and the entity id. Every mutation the gateway
 * runs bumps the response generation before its response is sent, and the
 * indexer bumps the search generation once it applied any write (an import,
 * a write whose outcome was unknown and committed late), so no entry
 * fetched before a write is found after it. Generations are read before the
 * fetch, so an entry is never older than the generations it is stored
 * under. While a bump of the tenant's generation is owed (Redis
 * unreachable), the tenant's entities are neither read nor stored.
 */
export function createEntityCache({
  cache,
  ttlSeconds,
  maxEntryBytes,
  bumps,
  events = noOperationalEvents,
}: EntityCacheOptions): EntityCache {
  const keyOf = ({ tenantId, generations, selection }: EntityScope, id: string) =>
    tenantKey(tenantId, 'entity', selection, generations, encodeURIComponent(id));
  return {
    async generations(tenantId) {
      if (bumps.owed(tenantId)) return undefined;
      try {
        return await readGenerations(cache, tenantId);
      } catch {
        return undefined;
      }
    },
    async lookup(scope, ids) {
      if (bumps.owed(scope.tenantId)) {
        for (const _ of ids) events.cacheLookup('entity', 'error');
        return ids.map(() => undefined);
      }
      let values: (string | undefined)[];
      try {
        values = await cache.getMany(ids.map((id) => keyOf(scope, id)));
      } catch {
        for (const _ of ids) events.cacheLookup('entity', 'error');
        return ids.map(() => undefined);
      }
      for (const value of values) events.cacheLookup('entity', value === undefined ? 'miss' : 'hit');
      return values;
    },
    async store(scope, entities) {
      if (bumps.owed(scope.tenantId)) return;
      const stored = entities
        .filter(({ json }) => Buffer.byteLength(json, 'utf8') <= maxEntryBytes)
        .map(({ id, json }) => ({ key: keyOf(scope, id), value: json }));
      if (stored.length > 0) await cache.setMany(stored, ttlSeconds);
    },
  };
}

import { hash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import {
  type Cache,
  responseGenerationKey,
  searchGenerationKey,
  tenantKey,
} from '../../server/cache/cache.ts';
import type { GenerationBumps } from '../../server/cache/generation-bumps.ts';
import { noOperationalEvents, type OperationalEvents } from '../../server/observability/events.ts';

export interface ResponseCacheOptions {
  /** Where responses live: Redis when REDIS_URL is set (shared by replicas), the in-process LRU otherwise. */
  cache: Cache;
  /**
   * How long a response is served again, in seconds. Default 60
   * (RESPONSE_CACHE_TTL_SECONDS). Writes that a gateway or the indexer sees
   * end an entry at once (see below); the TTL bounds only changes that
   * reach the backends around both (a reindex, a write straight to the
   * database), as the subgraphs' own caches already do.
   */
  ttlSeconds?: number;
  /**
   * Late in an entry's life, a hit also hands out a ticket to refresh it in
   * the background (one per entry at a time in this process), so a query
   * asked often never misses. Each entry's refresh point is drawn at random
   * (`drawRefreshPoint`), so that entries cached together (a cold start, a
   * deploy, a generation bump) are not all refreshed together, and a hit
   * still has at least half the window to start one. Default 0, off
   * (RESPONSE_CACHE_REFRESH_SECONDS; 2 in the gateway's configuration).
   */
  refreshSeconds?: number;
  /**
   * Bytes of entries this process keeps in front of `cache`, ready to send,
   * each until its refresh point and only while its generations are
   * current. With Redis and client-side caching of the generations, a hit
   * is then free of round trips; with any `cache`, of decoding the entry and
   * encoding its body. Default 0, none (RESPONSE_CACHE_NEAR_MAX_MB).
   */
  nearMaxBytes?: number;
  /**
   * Responses larger than this are sent but never stored, neither in `cache`
   * (a Redis value) nor near. Default 1 MiB (RESPONSE_CACHE_MAX_ENTRY_BYTES).
   */
  maxEntryBytes?: number;
  /**
   * What the gateway's answers depend on besides the request and the
   * tenant's data: its supergraph and validation rules
   * (`deploymentFingerprint`). It is part of every key, so replicas that
   * differ, as during a rolling deploy, never serve each other's entries.
   * Default '' (tests with one configuration).
   */
  deployment?: string;
  /** Where failed lookups are reported, and hits and misses by the shortcut and the plugin. Default: nowhere. */
  events?: OperationalEvents;
  /**
   * The bumps of the tenants' response generation, which the gateway's
   * write invalidation makes and shares with the entity cache, so that one
   * bump after a write ends both caches' entries, and an owed bump makes
   * both read around the tenant. Whoever passes them stops them.
   */
  bumps: GenerationBumps;
}

/** A complete response as the client received it, and the operation it answered (for metrics and logs). */
export interface CachedResponse {
  operationName: string | null;
  body: string;
}

/**
 * A response as a hit sends it: the body encoded once, when it is read
 * from the cache, rather than for every client it is sent to.
 */
export interface ResponseHit {
  operationName: string | null;
  body: Buffer;
}

/** An entry kept in process: served while its generations are the tenant's current ones. */
interface NearEntry {
  generations: string;
  response: ResponseHit;
}

/** Where a missed request's response may be stored: its key, and the generations read before it ran. */
export interface StoreTicket {
  key: string;
  generations: string;
}

export type Lookup = { hit: ResponseHit; refresh?: StoreTicket } | { miss: StoreTicket } | { failed: true };

export interface ResponseCache {
  /**
   * At most one cache round trip (the tenant's two generations and the entry, read together), and
   * none when both generations are kept in process and the entry is near.
   */
  lookup(tenantId: string, requestIdentity: string): Promise<Lookup>;
  /** Not awaited by callers: the client need not wait for the cache write. */
  store(ticket: StoreTicket, response: CachedResponse): Promise<void>;
  /** A refresh handed out by `lookup` has ended, stored or not: the entry may be refreshed again. */
  refreshEnded(ticket: StoreTicket): void;
  readonly events: OperationalEvents;
}

/**
 * What makes two requests the same for the cache: the operation (its text,
 * or a persisted id when the request carries no text), the operation name
 * and the variables. The shortcut passes a safelisted id as the text it
 * stands for, so an id dropped from the manifest stops matching its
 * entries at once; an id known only to APQ is kept as an id (its text is
 * fixed by its hash).
 */
export function requestIdentity(request: {
  query?: string;
  persistedId?: string;
  operationName?: string | null;
  variables?: Record<string, unknown> | null;
}): string {
  const operation = request.query !== undefined ? `text:${request.query}` : `id:${request.persistedId}`;
  // JSON keeps an empty operation name apart from none: Apollo answers them differently.
  const text = `${operation}\n${JSON.stringify(request.operationName ?? null)}\n${JSON.stringify(request.variables ?? {})}`;
  // One-shot `hash` rather than a `Hash` object: each of those is a native handle that the next
  // scavenge has to finalize, and a hit would make two (this and the token cache's key).
  return hash('sha256', text, 'base64url');
}

/**
 * Hashes what, besides the request, decides whether the gateway runs it and
 * what it answers: the supergraph, and the rules it validates against (the
 * operation limits, and production's stricter ones).
 */
export function deploymentFingerprint(parts: { supergraphSdl: string; validation: unknown }): string {
  const text = `${parts.supergraphSdl}\n${JSON.stringify(parts.validation)}`;
  return hash('sha256', text, 'base64url').slice(0, 16);
}

/**
 * Whole query responses per tenant.
 *
 * Each entry records the two per-tenant generations that were current when
 * its request was looked up, before it ran, and is served only while both
 * are unchanged. Every mutation the gateway runs bumps the tenant's
 * response generation before its response is sent, so the client that
 * wrote never reads a response cached before its write; a bump that fails
 * is owed and retried, and this process reads around the tenant's entries
 * until it lands. The indexer bumps the tenant's search generation once a
 * write is searchable, so a search cached between a write and its indexing
 * is dropped then. Both counters live in the shared cache (Redis), so this
 * holds across replicas; without Redis the gateway and indexer share them
 * only in one process (`npm start`). Changes that reach the index without
 * the indexer (a reindex) are seen after `ttlSeconds`. Entries expire by
 * TTL; nothing scans keys.
 *
 * A counter lost with Redis's data (a restart, FLUSHALL, an eviction)
 * restarts at a random epoch when next read (`Cache.readCounter`), never at
 * a value it had: no entry stored under the lost value, in Redis or near,
 * matches again.
 *
 * Generations are stored in the entry rather than in its key so that a hit
 * costs at most one round trip (an MGET of the two counters and the entry),
 * and none when the counters are kept in process (client-side caching) and
 * the entry is near. A request that read old generations may overwrite a
 * newer entry; the next lookup then misses, which costs a backend call,
 * never a stale answer.
 */
export function createResponseCache({
  cache,
  ttlSeconds = 60,
  refreshSeconds = 0,
  nearMaxBytes = 0,
  maxEntryBytes = 1024 * 1024,
  deployment = '',
  events = noOperationalEvents,
  bumps,
}: ResponseCacheOptions): ResponseCache {
  const near =
    nearMaxBytes > 0
      ? new LRUCache<string, NearEntry>({
          maxSize: nearMaxBytes,
          sizeCalculation: (entry) => Math.max(1, entry.response.body.length),
          ttlAutopurge: false,
        })
      : undefined;
  const keepNear = (key: string, entry: NearEntry, refreshAt: number) => {
    const ttl = refreshAt - Date.now();
    if (near && ttl > 0) near.set(key, entry, { ttl });
  };
  const refreshing = new Set<string>();
  const refreshTicket = (ticket: StoreTicket, refreshAt: number): StoreTicket | undefined => {
    if (refreshSeconds <= 0 || Date.now() < refreshAt || refreshing.has(ticket.key)) return;
    refreshing.add(ticket.key);
    return ticket;
  };
  return {
    events,
    async lookup(tenantId, identity) {
      // Responses cached before the tenant's last write may still carry current generations.
      if (bumps.owed(tenantId)) {
        events.cacheLookup('response', 'error');
        return { failed: true };
      }
      const key = tenantKey(tenantId, 'response', deployment, identity);
      const generationKeys = tenantGenerationKeys(tenantId);
      const nearby = near?.get(key);
      let values: (string | undefined)[];
      try {
        values = await cache.getMany(nearby ? generationKeys : [...generationKeys, key]);
        await startMissingCounters(cache, generationKeys, values);
        const [responses, searches] = values;
        // Before its refresh point (its TTL here) and under the current generations: as good as Redis's copy.
        if (nearby?.generations === `${responses}.${searches}`) return { hit: nearby.response };
        if (nearby) values = [...values, ...(await cache.getMany([key]))];
      } catch {
        // A cache that fails is a miss, and nothing is stored without knowing the generations.
        events.cacheLookup('response', 'error');
        return { failed: true };
      }
      const [responses, searches, entry] = values;
      const ticket = { key, generations: `${responses}.${searches}` };
      const decoded = entry === undefined ? undefined : decodeEntry(entry, ticket.generations);
      // Hits and misses are counted where the outcome is known: a hit may still be rate limited.
      if (!decoded) return { miss: ticket };
      const hit = encodeHit(decoded.response);
      keepNear(key, { generations: ticket.generations, response: hit }, decoded.refreshAt);
      return { hit, refresh: refreshTicket(ticket, decoded.refreshAt) };
    },
    async store(ticket, response) {
      if (Buffer.byteLength(response.body, 'utf8') > maxEntryBytes) return;
      const refreshAt = Date.now() + drawRefreshPoint(ttlSeconds, refreshSeconds) * 1000;
      await cache.set(ticket.key, encodeEntry(ticket.generations, refreshAt, response), ttlSeconds);
      if (near)
        keepNear(ticket.key, { generations: ticket.generations, response: encodeHit(response) }, refreshAt);
    },
    refreshEnded(ticket) {
      refreshing.delete(ticket.key);
    },
  };
}

/** A tenant's two generations, in the order `StoreTicket.generations` lists them. */
const tenantGenerationKeys = (tenantId: string) => [
  responseGenerationKey(tenantId),
  searchGenerationKey(tenantId),
];

/**
 * The tenant's current generations, as a `StoreTicket` records them: for a
 * request the response cache did not look up, read on its own. Throws when
 * the cache does.
 */
export async function readGenerations(cache: Cache, tenantId: string): Promise<string> {
  const keys = tenantGenerationKeys(tenantId);
  const values = await cache.getMany(keys);
  await startMissingCounters(cache, keys, values);
  return values.join('.');
}

/**
 * Fills in, from `readCounter`, each counter in `values` (read for `keys`)
 * that is missing: a lost counter comes back at a random epoch, so entries,
 * near or in Redis, stored under its old value never match again.
 */
async function startMissingCounters(
  cache: Cache,
  keys: readonly string[],
  values: (string | undefined)[],
): Promise<void> {
  await Promise.all(
    keys.map(async (key, index) => {
      if (values[index] === undefined) values[index] = await cache.readCounter(key);
    }),
  );
}

/**
 * Seconds after storing at which an entry becomes due for a refresh: at
 * random from the start of its last `refreshSeconds` (or from three
 * quarters of its TTL, if that is earlier) to halfway through that last
 * window. With a long TTL, entries stored in the same second (after a cold
 * start) spread their refreshes over a quarter of it instead of coming due
 * in waves, one TTL apart, for many cycles.
 */
export function drawRefreshPoint(ttlSeconds: number, refreshSeconds: number): number {
  if (refreshSeconds <= 0) return ttlSeconds;
  const earliest = Math.min(ttlSeconds - refreshSeconds, ttlSeconds * 0.75);
  const latest = ttlSeconds - refreshSeconds / 2;
  return earliest + Math.random() * (latest - earliest);
}

function encodeHit({ operationName, body }: CachedResponse): ResponseHit {
  return { operationName, body: Buffer.from(body, 'utf8') };
}

// `generations\nrefreshAt\noperationName\nbody`: none of the first three can hold a newline.
function encodeEntry(
  generations: string,
  refreshAt: number,
  { operationName, body }: CachedResponse,
): string {
  return `${generations}\n${Math.round(refreshAt)}\n${operationName ?? ''}\n${body}`;
}

function decodeEntry(
  entry: string,
  currentGenerations: string,
): { response: CachedResponse; refreshAt: number } | undefined {
  const first = entry.indexOf('\n');
  const second = entry.indexOf('\n', first + 1);
  const third = entry.indexOf('\n', second + 1);
  if (first < 0 || second < 0 || third < 0 || entry.slice(0, first) !== currentGenerations) return undefined;
  return {
    refreshAt: Number(entry.slice(first + 1, second)),
    response: { operationName: entry.slice(second + 1, third) || null, body: entry.slice(third + 1) },
  };
}

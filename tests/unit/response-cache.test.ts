import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  createResponseCache,
  deploymentFingerprint,
  drawRefreshPoint,
  type Lookup,
  type ResponseCache,
  type ResponseCacheOptions,
  requestIdentity,
  type StoreTicket,
} from '../../gateway/response-cache/response-cache.ts';
import { type Cache, responseGenerationKey, searchGenerationKey } from '../../server/cache/cache.ts';
import { createGenerationBumps } from '../../server/cache/generation-bumps.ts';
import {
  createMemoryCache,
  createRedisCache,
  createRedisClient,
  resilientCache,
} from '../../server/cache/index.ts';
import { createLogger } from '../../server/logger.ts';
import { noOperationalEvents } from '../../server/observability/events.ts';
import { createResilience } from '../../server/resilience/index.ts';
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.ts';
import { useTestRedis } from '../helpers/redis-server.ts';

/**
 * A response cache with the generation bumps the gateway gives it, and what a
 * write does to it: `invalidate` bumps the tenant's response generation, as
 * the write-invalidation plugin does; `close` stops retrying owed bumps.
 */
function createTestResponseCache(options: Omit<ResponseCacheOptions, 'bumps'>) {
  const bumps = createGenerationBumps({ cache: options.cache, key: responseGenerationKey });
  return Object.assign(createResponseCache({ ...options, bumps }), {
    invalidate: (tenantId: string) => bumps.bump([tenantId]),
    close: () => bumps.stop(),
  });
}

const bodyOf = (lookup: Lookup) => ('hit' in lookup ? lookup.hit.body.toString('utf8') : undefined);
const refreshOf = (lookup: Lookup) => ('hit' in lookup ? lookup.refresh : undefined);

describe('response cache invalidation while Redis is unreachable (real redis-server)', () => {
  const redis = useTestRedis();
  let proxy: FaultProxy;
  beforeAll(async () => {
    proxy = await startFaultProxy({ host: '127.0.0.1', port: redis.server.port });
  });
  afterAll(() => proxy.close());

  it("owes a failed bump: reads around the tenant's entries until the retried bump lands", async () => {
    // The writer reaches Redis through a proxy that can refuse it; Redis itself keeps every key.
    const client = createRedisClient({
      url: `redis://127.0.0.1:${proxy.port}`,
      logger: createLogger({ level: 'silent' }),
    });
    const policy = createResilience({ failureThreshold: 100, readAttempts: 1 }).policy('redis');
    const writer = createTestResponseCache({
      cache: resilientCache(createRedisCache({ redis: client }), policy),
    });
    const other = createTestResponseCache({
      cache: resilientCache(createRedisCache({ redis: redis.client }), policy),
    });
    try {
      await once(client, 'ready');
      for (const tenant of ['owing', 'bystander']) {
        const miss = await writer.lookup(tenant, 'page');
        if (!('miss' in miss)) throw new Error('expected a miss');
        await writer.store(miss.miss, { operationName: null, body: `${tenant} before` });
      }
      expect(bodyOf(await other.lookup('owing', 'page'))).toBe('owing before');

      // The tenant writes while its gateway cannot reach Redis: the bump never arrives.
      await proxy.set('refuse');
      await writer.invalidate('owing');
      await proxy.set('pass');
      if (client.status !== 'ready') await once(client, 'ready');
      // Redis still holds the entry under the old generation, which a lookup would serve.
      expect(bodyOf(await other.lookup('owing', 'page'))).toBe('owing before');
      expect(await writer.lookup('owing', 'page')).toEqual({ failed: true });
      expect(bodyOf(await writer.lookup('bystander', 'page'))).toBe('bystander before');

      // Within a second of Redis answering again the bump lands, for every replica.
      await sleep(1200);
      expect(await writer.lookup('owing', 'page')).toHaveProperty('miss');
      expect(await other.lookup('owing', 'page')).toHaveProperty('miss');
    } finally {
      writer.close();
      other.close();
      client.disconnect();
    }
  });
});

describe('response cache entry size (real redis-server and in process)', () => {
  const redis = useTestRedis();

  it.each([
    ['redis', () => createRedisCache({ redis: redis.client })],
    ['memory', () => createMemoryCache()],
  ] as const)('never stores a response above maxEntryBytes, in %s or near', async (_name, make) => {
    const responses = createTestResponseCache({
      cache: make(),
      maxEntryBytes: 1024,
      nearMaxBytes: 1024 * 1024,
    });
    try {
      for (const [identity, body] of [
        ['small', 'x'.repeat(1000)],
        ['large', 'x'.repeat(1025)],
      ] as const) {
        const miss = await responses.lookup('tenant', identity);
        if (!('miss' in miss)) throw new Error('expected a miss');
        await responses.store(miss.miss, { operationName: null, body });
      }
      expect(bodyOf(await responses.lookup('tenant', 'small'))).toHaveLength(1000);
      expect(await responses.lookup('tenant', 'large')).toHaveProperty('miss');
      if (_name === 'redis') {
        // The one small response; the tenant's generation counters are the other keys.
        const entries = (await redis.client.keys('*')).filter((key) => !key.endsWith('-generation'));
        expect(entries).toHaveLength(1);
      }
    } finally {
      responses.close();
    }
  });
});

describe('response cache after Redis loses its counters (real redis-server)', () => {
  const redis = useTestRedis();

  it.each(['restart', 'FLUSHALL'] as const)(
    'never serves a near copy stored before a write once the counters are lost (%s)',
    async (loss) => {
      const policy = createResilience({ failureThreshold: 100 }).policy('redis');
      const responses = createTestResponseCache({
        cache: resilientCache(createRedisCache({ redis: redis.client }), policy),
        nearMaxBytes: 1_000_000,
      });
      const tenant = `lost-${loss}`;
      try {
        const miss = await responses.lookup(tenant, 'page');
        if (!('miss' in miss)) throw new Error('expected a miss');
        await responses.store(miss.miss, { operationName: null, body: 'before the write' });
        expect(bodyOf(await responses.lookup(tenant, 'page'))).toBe('before the write');
        await responses.invalidate(tenant);
        expect(await responses.lookup(tenant, 'page')).toHaveProperty('miss');

        if (loss === 'FLUSHALL') await redis.client.flushall();
        else {
          await redis.server.kill();
          await redis.server.restart();
          if (redis.client.status !== 'ready') await once(redis.client, 'ready');
        }
        expect(bodyOf(await responses.lookup(tenant, 'page'))).toBeUndefined();
      } finally {
        responses.close();
      }
    },
  );
});

describe('response cache keys and refresh points', () => {
  it('keeps the entries of gateways deployed differently apart, over one shared cache', async () => {
    const cache = createMemoryCache({ maxEntries: 100 });
    const current = createTestResponseCache({ cache, deployment: 'supergraph-1' });
    const next = createTestResponseCache({ cache, deployment: 'supergraph-2' });
    const miss = await current.lookup('tenant', 'page');
    if (!('miss' in miss)) throw new Error('expected a miss');
    await current.store(miss.miss, { operationName: null, body: 'from the current deployment' });
    expect(bodyOf(await current.lookup('tenant', 'page'))).toBe('from the current deployment');
    expect(await next.lookup('tenant', 'page')).toHaveProperty('miss');
  });

  it('spreads the refresh points of entries stored together over a quarter of a long TTL', () => {
    const points = Array.from({ length: 2000 }, () => drawRefreshPoint(60, 2));
    expect(Math.min(...points)).toBeGreaterThanOrEqual(45);
    expect(Math.max(...points)).toBeLessThanOrEqual(59);
    expect(Math.max(...points) - Math.min(...points)).toBeGreaterThan(13);
    // A short TTL keeps the window it always had: the first half of the last `refreshSeconds`.
    const short = Array.from({ length: 2000 }, () => drawRefreshPoint(5, 2));
    expect(Math.min(...short)).toBeGreaterThanOrEqual(3);
    expect(Math.min(...short)).toBeLessThan(3.25);
    expect(Math.max(...short)).toBeLessThanOrEqual(4);
    expect(drawRefreshPoint(60, 0)).toBe(60);
  });
});

/** Looks the request up, which must miss, and stores `body` as its response. */
async function missThenStore(
  responses: ResponseCache,
  tenantId: string,
  identity: string,
  body: string,
  operationName: string | null = null,
): Promise<StoreTicket> {
  const lookup = await responses.lookup(tenantId, identity);
  if (!('miss' in lookup)) throw new Error(`expected a miss, got ${JSON.stringify(lookup)}`);
  await responses.store(lookup.miss, { operationName, body });
  return lookup.miss;
}

/** A cache that records the keys each `getMany` read and the TTL of each `set`. */
function recordingCache(inner: Cache = createMemoryCache()) {
  const reads: number[] = [];
  const ttls: number[] = [];
  const cache: Cache = {
    ...inner,
    getMany: (keys) => {
      reads.push(keys.length);
      return inner.getMany(keys);
    },
    set: (key, value, ttl) => {
      ttls.push(ttl);
      return inner.set(key, value, ttl);
    },
  };
  return { cache, reads, ttls };
}

describe('response cache entries', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('serves a response only under the generations it was looked up with, per tenant and request', async () => {
    const cache = createMemoryCache();
    const responses = createTestResponseCache({ cache });
    await missThenStore(responses, 'acme', 'page', '{"data":1}', 'Search');
    await missThenStore(responses, 'globex', 'page', 'globex page');
    expect(await responses.lookup('acme', 'page')).toMatchObject({
      hit: { operationName: 'Search', body: Buffer.from('{"data":1}') },
    });
    expect(await responses.lookup('acme', 'other page')).toHaveProperty('miss');
    // A mutation by the tenant: its entries stop, another tenant's stay.
    await responses.invalidate('acme');
    expect(await responses.lookup('acme', 'page')).toHaveProperty('miss');
    expect(bodyOf(await responses.lookup('globex', 'page'))).toBe('globex page');
    // The indexer made a write searchable.
    await missThenStore(responses, 'acme', 'page', 'after the write');
    expect(bodyOf(await responses.lookup('acme', 'page'))).toBe('after the write');
    await cache.increment(searchGenerationKey('acme'));
    expect(await responses.lookup('acme', 'page')).toHaveProperty('miss');
    expect(bodyOf(await responses.lookup('globex', 'page'))).toBe('globex page');
    responses.close();
  });

  it('keeps a response without an operation name as one, and an entry it cannot read as a miss', async () => {
    const cache = createMemoryCache();
    const responses = createTestResponseCache({ cache });
    const ticket = await missThenStore(responses, 't', 'anonymous', 'body\nwith\nnewlines');
    expect(await responses.lookup('t', 'anonymous')).toMatchObject({
      hit: { operationName: null, body: Buffer.from('body\nwith\nnewlines') },
    });
    for (const foreign of ['no newlines', `${ticket.generations}\n1`, `${ticket.generations}\n1\nOp`]) {
      await cache.set(ticket.key, foreign, 60);
      expect(await responses.lookup('t', 'anonymous'), foreign).toHaveProperty('miss');
    }
  });

  it('stores a response of exactly maxEntryBytes, and none larger', async () => {
    const responses = createTestResponseCache({ cache: createMemoryCache(), maxEntryBytes: 10 });
    await missThenStore(responses, 't', 'fits', 'x'.repeat(10));
    await missThenStore(responses, 't', 'too large', 'x'.repeat(11));
    expect(bodyOf(await responses.lookup('t', 'fits'))).toBe('x'.repeat(10));
    expect(await responses.lookup('t', 'too large')).toHaveProperty('miss');
  });

  it('stores each entry for ttlSeconds, a minute by default', async () => {
    for (const [ttlSeconds, expected] of [
      [undefined, 60],
      [5, 5],
    ] as const) {
      const { cache, ttls } = recordingCache();
      await missThenStore(createTestResponseCache({ cache, ttlSeconds }), 't', 'page', 'body');
      expect(ttls).toEqual([expected]);
    }
  });

  it('fails a lookup the cache cannot answer, counts it as an error, and reads around an owed bump', async () => {
    const outcomes: string[] = [];
    const events = {
      ...noOperationalEvents,
      cacheLookup: (name: string, outcome: string) => outcomes.push(name === 'response' ? outcome : name),
    };
    const inner = createMemoryCache();
    const state = { down: false };
    const cache: Cache = {
      ...inner,
      getMany: (keys) => (state.down ? Promise.reject(new Error('redis down')) : inner.getMany(keys)),
      increment: (key) => (state.down ? Promise.reject(new Error('redis down')) : inner.increment(key)),
    };
    const responses = createTestResponseCache({ cache, events });
    await missThenStore(responses, 't', 'page', 'before');
    state.down = true;
    expect(await responses.lookup('t', 'page')).toEqual({ failed: true });
    expect(outcomes).toEqual(['error']);
    await responses.invalidate('t');
    state.down = false;
    // The bump is owed: the entry, still under current generations in the cache, must not be served.
    expect(await responses.lookup('t', 'page')).toEqual({ failed: true });
    expect(outcomes).toEqual(['error', 'error']);
    expect(bodyOf(await responses.lookup('other', 'page'))).toBeUndefined();
    responses.close();
  });

  it('hands out one refresh ticket per entry, once its refresh point has passed, and again once it ended', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const start = Date.now();
    const responses = createTestResponseCache({
      cache: createMemoryCache(),
      ttlSeconds: 60,
      refreshSeconds: 2,
    });
    await missThenStore(responses, 't', 'page', 'body');
    // The earliest refresh point of a 60 s entry with a 2 s window is 45 s in.
    vi.setSystemTime(start + 44_000);
    expect(refreshOf(await responses.lookup('t', 'page'))).toBeUndefined();
    vi.setSystemTime(start + 59_500);
    const due = await responses.lookup('t', 'page');
    if (!('hit' in due) || !due.refresh) throw new Error('expected a hit with a refresh ticket');
    expect(bodyOf(due)).toBe('body');
    // One refresh at a time.
    expect(refreshOf(await responses.lookup('t', 'page'))).toBeUndefined();
    responses.refreshEnded(due.refresh);
    expect(refreshOf(await responses.lookup('t', 'page'))).toEqual(due.refresh);
    responses.close();
  });

  it('never hands out a refresh ticket when refreshing is off', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const start = Date.now();
    const responses = createTestResponseCache({ cache: createMemoryCache(), ttlSeconds: 60 });
    await missThenStore(responses, 't', 'page', 'body');
    vi.setSystemTime(start + 60_500);
    const late = await responses.lookup('t', 'page');
    expect(bodyOf(late)).toBe('body');
    expect(refreshOf(late)).toBeUndefined();
  });

  it('serves a near entry after reading only the generations, and never past a generation another replica moved', async () => {
    const shared = createMemoryCache();
    const { cache, reads } = recordingCache(shared);
    const responses = createTestResponseCache({ cache, nearMaxBytes: 1_000_000 });
    const otherReplica = createTestResponseCache({ cache: shared });
    await missThenStore(responses, 't', 'page', 'near body');
    reads.length = 0;
    expect(bodyOf(await responses.lookup('t', 'page'))).toBe('near body');
    // The two generations, not the entry.
    expect(reads).toEqual([2]);
    await otherReplica.invalidate('t');
    expect(await responses.lookup('t', 'page')).toHaveProperty('miss');
    // A stale near copy gives way to what another replica stored under the current generations.
    await missThenStore(responses, 't', 'page', 'near again');
    await otherReplica.invalidate('t');
    await missThenStore(otherReplica, 't', 'page', 'stored after the write');
    expect(bodyOf(await responses.lookup('t', 'page'))).toBe('stored after the write');
    // Without a near copy every lookup reads the entry too.
    const { cache: plain, reads: plainReads } = recordingCache();
    const far = createTestResponseCache({ cache: plain });
    await missThenStore(far, 't', 'page', 'far body');
    plainReads.length = 0;
    expect(bodyOf(await far.lookup('t', 'page'))).toBe('far body');
    expect(plainReads).toEqual([3]);
  });

  it('keeps near copies within nearMaxBytes, the least recently used going first', async () => {
    const { cache, reads } = recordingCache();
    const responses = createTestResponseCache({ cache, nearMaxBytes: 100 });
    await missThenStore(responses, 't', 'first', 'a'.repeat(60));
    await missThenStore(responses, 't', 'second', 'b'.repeat(60));
    reads.length = 0;
    await responses.lookup('t', 'second');
    await responses.lookup('t', 'first');
    // The second is near; the first no longer fitted beside it and is read from the cache.
    expect(reads).toEqual([2, 3]);
  });

  it('stops retrying an owed invalidation once closed', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let attempts = 0;
    const cache: Cache = {
      ...createMemoryCache(),
      increment: () => {
        attempts++;
        return Promise.reject(new Error('redis down'));
      },
    };
    const responses = createTestResponseCache({ cache });
    await responses.invalidate('t');
    await vi.advanceTimersByTimeAsync(1000);
    expect(attempts).toBe(2);
    responses.close();
    await vi.advanceTimersByTimeAsync(5000);
    expect(attempts).toBe(2);
  });

  it('keeps a response read from the cache near', async () => {
    const shared = createMemoryCache();
    await missThenStore(createTestResponseCache({ cache: shared }), 't', 'page', 'stored by another replica');
    const { cache, reads } = recordingCache(shared);
    const reader = createTestResponseCache({ cache, nearMaxBytes: 1_000_000 });
    expect(bodyOf(await reader.lookup('t', 'page'))).toBe('stored by another replica');
    expect(bodyOf(await reader.lookup('t', 'page'))).toBe('stored by another replica');
    expect(reads).toEqual([3, 2]);
  });
});

describe('response cache identities', () => {
  it('tells requests apart by operation text or persisted id, operation name and variables', () => {
    const base = { query: '{ a }', operationName: 'A', variables: { x: 1 } };
    const identities = [
      requestIdentity(base),
      requestIdentity({ ...base, query: '{ b }' }),
      requestIdentity({ ...base, query: undefined, persistedId: 'abc' }),
      requestIdentity({ ...base, query: undefined, persistedId: 'abd' }),
      requestIdentity({ ...base, operationName: 'B' }),
      requestIdentity({ ...base, operationName: '' }),
      requestIdentity({ ...base, operationName: null }),
      requestIdentity({ ...base, variables: { x: 2 } }),
      requestIdentity({ ...base, variables: null }),
    ];
    expect(new Set(identities).size).toBe(identities.length);
    expect(requestIdentity({ ...base })).toBe(identities[0]);
    // Absent and empty are the same request.
    expect(requestIdentity({ query: '{ a }', variables: {} })).toBe(requestIdentity({ query: '{ a }' }));
    expect(requestIdentity({ query: '{ a }', operationName: null })).toBe(
      requestIdentity({ query: '{ a }' }),
    );
  });

  it('fingerprints a deployment by its supergraph and its validation rules', () => {
    const base = { supergraphSdl: 'type Query { a: Int }', validation: { maxDepth: 10 } };
    const fingerprint = deploymentFingerprint(base);
    expect(deploymentFingerprint({ ...base })).toBe(fingerprint);
    expect(deploymentFingerprint({ ...base, supergraphSdl: 'type Query { b: Int }' })).not.toBe(fingerprint);
    expect(deploymentFingerprint({ ...base, validation: { maxDepth: 11 } })).not.toBe(fingerprint);
    expect(fingerprint).toMatch(/^[\w-]{16}$/);
  });
});

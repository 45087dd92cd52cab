import { once } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isGenerationKey, parseVersionedValue, searchGenerationKey } from '../../server/cache/cache.ts';
import {
  type Cache,
  createKeyValueCache,
  createMemoryCache,
  createRedisCache,
  createRedisClient,
  openCache,
  tenantKey,
} from '../../server/cache/index.ts';
import { cacheConcern } from '../../server/config/cache.ts';
import { configLoader } from '../../server/config/compose.ts';
import type { DocumentRecord } from '../../server/documents/model.ts';
import { EmbeddedDatabase } from '../../server/embedded/sqlite.ts';
import { createLogger } from '../../server/logger.ts';
import { noOperationalEvents } from '../../server/observability/events.ts';
import { createResilience, DependencyUnavailableError } from '../../server/resilience/index.ts';
import { cachedDocumentStore } from '../../subgraphs/documents/cached-document-store.ts';
import { type DocumentStore, VersionConflictError } from '../../subgraphs/documents/document-store.ts';
import { SqliteSearchIndex } from '../../subgraphs/search/adapters/sqlite-search-index.ts';
import { cachedSearchIndex, searchCacheBumpingSynonyms } from '../../subgraphs/search/cached-search-index.ts';
import type { SearchIndex, SearchPage, SearchRequest } from '../../subgraphs/search/search-index.ts';
import { redisReadCalls, useTestRedis } from '../helpers/redis-server.ts';
import { refreshingSearchIndex } from '../helpers/refreshing-search-index.ts';

const redis = useTestRedis();

describe.each([
  ['memory', () => createMemoryCache()],
  ['redis', () => createRedisCache({ redis: redis.client })],
] as const)('%s cache adapter', (_name, make) => {
  it('gets, sets, deletes and expires', async () => {
    const cache = make();
    const key = tenantKey('t1', 'k', String(Math.random()));
    expect(await cache.get(key)).toBeUndefined();
    await cache.set(key, 'v', 1);
    expect(await cache.getMany([key, `${key}-absent`])).toEqual(['v', undefined]);
    await cache.delete([key]);
    expect(await cache.get(key)).toBeUndefined();
    await cache.set(key, 'short', 1);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await cache.get(key)).toBeUndefined();
  });

  it('increments counters atomically', async () => {
    const cache = make();
    const key = tenantKey('t1', 'counter', String(Math.random()));
    const values = await Promise.all(Array.from({ length: 20 }, () => cache.increment(key)));
    const start = Math.min(...values);
    expect([...values].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => start + i));
  });

  it('starts a missing counter at a random epoch, so a lost counter never repeats an old value', async () => {
    const cache = make();
    const key = tenantKey('t1', 'counter', String(Math.random()));
    const started = Number(await cache.readCounter(key));
    expect(await cache.readCounter(key)).toBe(String(started));
    expect(await cache.increment(key)).toBe(started + 1);
    await cache.delete([key]);
    const restarted = Number(await cache.readCounter(key));
    expect([started, started + 1]).not.toContain(restarted);
    const other = tenantKey('t1', 'counter', String(Math.random()));
    expect(await cache.increment(other)).toBeGreaterThan(1);
  });

  it('stores a versioned value only over an older one, atomically', async () => {
    const cache = make();
    const key = tenantKey('t1', 'versioned', String(Math.random()));
    await cache.setNewer(key, 2, 'two', 60);
    await cache.setNewer(key, 1, 'one', 60);
    expect(await cache.get(key)).toBe('2:two');
    await Promise.all([5, 3, 9, 4, 7].map((version) => cache.setNewer(key, version, `v${version}`, 60)));
    expect(await cache.get(key)).toBe('9:v9');
    await cache.setNewer(key, Number.MAX_SAFE_INTEGER, '', 60);
    await cache.setNewer(key, 10, 'ten', 60);
    expect(await cache.get(key)).toBe(`${Number.MAX_SAFE_INTEGER}:`);
  });

  it('answers an empty batch with nothing, and deletes nothing when given no keys', async () => {
    const cache = make();
    const key = tenantKey('t1', 'k', String(Math.random()));
    await cache.set(key, 'kept', 60);
    expect(await cache.getMany([])).toEqual([]);
    await cache.delete([]);
    expect(await cache.get(key)).toBe('kept');
  });

  it('stores a batch of entries, each under its own key, and nothing for an empty batch', async () => {
    const cache = make();
    const prefix = tenantKey('t1', 'batch', String(Math.random()));
    const entries = ['{"a":1}', 'with: colon\nand newline', 'ünïcödé', ''].map((value, index) => ({
      key: `${prefix}:${index}`,
      value,
    }));
    await cache.setMany(entries, 60);
    await cache.setMany([], 60);
    expect(await cache.getMany(entries.map(({ key }) => key))).toEqual(entries.map(({ value }) => value));
  });

  it('backs the APQ KeyValueCache', async () => {
    const kv = createKeyValueCache(make(), 'quarry:apq');
    await kv.set('hash', '{ a }', { ttl: 60 });
    expect(await kv.get('hash')).toBe('{ a }');
  });
});

it('stores a batch in Redis in one command, every entry under the TTL', async () => {
  const cache = createRedisCache({ redis: redis.client });
  const prefix = tenantKey('t1', 'batch', String(Math.random()));
  const keys = Array.from({ length: 20 }, (_, index) => `${prefix}:${index}`);
  await cache.setMany([{ key: `${prefix}:loads-the-script`, value: '' }], 60);
  const sent = vi.spyOn(redis.client, 'sendCommand');
  try {
    await cache.setMany(
      keys.map((key) => ({ key, value: key })),
      60,
    );
    expect(sent.mock.calls.map(([command]) => command.name)).toEqual(['evalsha']);
  } finally {
    sent.mockRestore();
  }
  const lifetimes = await Promise.all(keys.map((key) => redis.client.pttl(key)));
  for (const lifetime of lifetimes) expect(lifetime).toBeGreaterThan(50_000);
  for (const lifetime of lifetimes) expect(lifetime).toBeLessThanOrEqual(60_000);
});

it('keeps a lifetime under a second in Redis for a second rather than refusing it', async () => {
  const cache = createRedisCache({ redis: redis.client });
  const key = tenantKey('t1', 'short', String(Math.random()));
  await cache.set(key, 'brief', 0.4);
  await cache.setNewer(`${key}-versioned`, 1, 'brief', 0.4);
  expect(await cache.getMany([key, `${key}-versioned`])).toEqual(['brief', '1:brief']);
});

describe('the APQ key-value cache', () => {
  /** A memory cache that remembers the lifetime each write asked for. */
  function recordingLifetimes() {
    const memory = createMemoryCache();
    const lifetimes = new Map<string, number>();
    const cache: Cache = {
      ...memory,
      set: (key, value, ttlSeconds) => {
        lifetimes.set(key, ttlSeconds);
        return memory.set(key, value, ttlSeconds);
      },
    };
    return { cache, lifetimes };
  }

  it('keeps each query under its prefix for the lifetime Apollo asks, five minutes when it asks none, and deletes it', async () => {
    const { cache, lifetimes } = recordingLifetimes();
    const kv = createKeyValueCache(cache, 'quarry:apq');
    await kv.set('short', '{ a }', { ttl: 60 });
    await kv.set('default', '{ b }');
    expect(await cache.getMany(['quarry:apq:short', 'quarry:apq:default'])).toEqual(['{ a }', '{ b }']);
    expect(Object.fromEntries(lifetimes)).toEqual({ 'quarry:apq:short': 60, 'quarry:apq:default': 300 });
    expect(await kv.delete('short')).toBe(true);
    expect(await kv.get('short')).toBeUndefined();
    expect(await kv.get('default')).toBe('{ b }');
  });

  it('reads a failing cache as a miss and drops writes to it, so the client just sends the full query', async () => {
    const failing = createMemoryCache();
    const down = () =>
      Promise.reject(new DependencyUnavailableError('redis', new Error('connection refused')));
    const kv = createKeyValueCache({ ...failing, get: down, set: down, delete: down });
    expect(await kv.get('hash')).toBeUndefined();
    await kv.set('hash', '{ a }');
    expect(await kv.delete('hash')).toBe(true);
  });
});

describe('the cache the configuration opens', () => {
  const logger = createLogger({ level: 'silent' });
  const configured = configLoader(cacheConcern);

  it('is an in-process LRU of CACHE_MEMORY_MAX_ENTRIES without REDIS_URL, or the one the services in this process share', async () => {
    const opened = openCache(configured({ CACHE_MEMORY_MAX_ENTRIES: '2' }).cache, createResilience(), logger);
    expect(opened.redis).toBeUndefined();
    expect(opened.clientTracking).toBeUndefined();
    for (const key of ['a', 'b', 'c']) await opened.cache.set(tenantKey('t', key), key, 60);
    expect(await opened.cache.getMany(['a', 'b', 'c'].map((key) => tenantKey('t', key)))).toEqual([
      undefined,
      'b',
      'c',
    ]);
    await opened.close();
    const shared = createMemoryCache();
    const sharing = openCache(configured({}).cache, createResilience(), logger, shared);
    await sharing.cache.set(tenantKey('t', 'shared'), 'one copy', 60);
    expect(await shared.get(tenantKey('t', 'shared'))).toBe('one copy');
  });

  it('is Redis with REDIS_URL, keeping generations in process while tracking is on, and closes its connections', async () => {
    const opened = openCache(configured({ REDIS_URL: redis.server.url }).cache, createResilience(), logger);
    const { clientTracking } = opened;
    if (!clientTracking) throw new Error('client tracking is on by default');
    await expect.poll(clientTracking).toBe(true);
    const generation = searchGenerationKey('opened');
    expect(isGenerationKey(generation)).toBe(true);
    await redis.client.set(generation, '3');
    expect(await opened.cache.get(generation)).toBe('3');
    const before = await redisReadCalls(redis.client);
    expect(await opened.cache.get(generation)).toBe('3');
    expect(await redisReadCalls(redis.client)).toBe(before);
    await opened.close();
    await expect.poll(() => opened.redis?.status, { timeout: 5000 }).toBe('end');
    expect(clientTracking()).toBe(false);
  });

  it('reads every key from Redis with REDIS_CLIENT_TRACKING=false, and closes its connection', async () => {
    const opened = openCache(
      configured({ REDIS_URL: redis.server.url, REDIS_CLIENT_TRACKING: 'false' }).cache,
      createResilience(),
      logger,
    );
    expect(opened.clientTracking).toBeUndefined();
    await redis.client.set(tenantKey('t', 'plain'), 'from redis');
    expect(await opened.cache.get(tenantKey('t', 'plain'))).toBe('from redis');
    await opened.close();
    await expect.poll(() => opened.redis?.status, { timeout: 5000 }).toBe('end');
  });
});

it('keeps in-process generation counters however many entries push others out', async () => {
  const cache = createMemoryCache({ maxEntries: 4 });
  const generation = tenantKey('acme', 'generation');
  const bumped = await cache.increment(generation);
  for (let i = 0; i < 10; i += 1) await cache.set(tenantKey('globex', 'page', String(i)), 'page', 60);
  // Started again, the counter could bring back entries cached before the write that bumped it.
  expect(await cache.get(generation)).toBe(String(bumped));
  expect(await cache.getMany([generation, tenantKey('globex', 'page', '0')])).toEqual([
    String(bumped),
    undefined,
  ]);
  expect(await cache.increment(generation)).toBe(bumped + 1);
});

describe('redis eviction policy', () => {
  const redis = useTestRedis();

  it('logs an error when Redis may evict keys without a TTL, such as the generation counters', async () => {
    const policyAfterConnect = async (policy: string) => {
      await redis.client.config('SET', 'maxmemory-policy', policy);
      const lines: { level: string; msg: string; maxmemoryPolicy?: string }[] = [];
      const logger = createLogger({
        level: 'info',
        destination: { write: (line: string) => lines.push(JSON.parse(line)) },
      });
      const client = createRedisClient({ url: redis.server.url, logger });
      await once(client, 'ready');
      await client.ping();
      client.disconnect();
      const errors = lines.filter((line) => line.level === 'error');
      // The line tells the operator what to change it to.
      for (const line of errors) expect(line.msg).toMatch(/use volatile-lru or noeviction/);
      return errors.map((line) => line.maxmemoryPolicy);
    };
    expect(await policyAfterConnect('allkeys-lru')).toEqual(['allkeys-lru']);
    expect(await policyAfterConnect('volatile-lru')).toEqual([]);
    expect(await policyAfterConnect('noeviction')).toEqual([]);
  });
});

it('keeps tenant ids from forging each other’s key prefix', () => {
  expect(tenantKey('a:b', 'c')).not.toBe(tenantKey('a', 'b:c'));
  expect(tenantKey('a', 'b:c')).toBe('quarry:a:b:c');
});

/** Events that record each lookup's outcome, and any lookup counted under another cache's name with that name. */
const lookupsOf = (lookups: string[], cacheName: string) => ({
  ...noOperationalEvents,
  cacheLookup: (name: string, outcome: string) =>
    lookups.push(name === cacheName ? outcome : `${name}:${outcome}`),
});

/** A search index whose results the test controls, counting calls. */
function fakeIndex() {
  let version = 'v1';
  let failure: Error | undefined;
  let gate: Promise<void> | undefined;
  const state = { calls: 0 };
  const page = (): SearchPage => ({
    total: 1,
    hits: [{ documentId: version, score: 1, highlights: [], sortKey: [1, version] }],
    facets: [],
    hasNextPage: false,
  });
  const index: SearchIndex = {
    async search() {
      state.calls++;
      const answer = page();
      if (gate) await gate;
      if (failure) throw failure;
      return answer;
    },
    suggest: async () => [],
    apply: async () => ({ rejected: [] }),
    close: async () => {},
  };
  return {
    index,
    state,
    indexNow: (next: string) => {
      version = next;
    },
    fail: (error: Error | undefined) => {
      failure = error;
    },
    hold: () => {
      let release = () => {};
      gate = new Promise((resolve) => {
        release = () => {
          gate = undefined;
          resolve();
        };
      });
      return release;
    },
  };
}

const request = (tenantId: string, text = 'q'): SearchRequest => ({
  tenantId,
  text,
  filter: {},
  sort: 'RELEVANCE',
  first: 10,
  facets: [],
});
const change = (tenantId: string) => [
  {
    sequence: '1',
    tenantId,
    documentId: 'd',
    version: 2,
    operation: 'upsert' as const,
    document: null,
    committedAt: new Date(),
  },
];
const hitId = (page: SearchPage) => page.hits[0]?.documentId;

describe('search cache', () => {
  it('is invalidated when the indexer applies a tenant’s changes, not before', async () => {
    const fake = fakeIndex();
    const cache = createMemoryCache();
    const searchSide = cachedSearchIndex(fake.index, { cache });
    const indexerSide = cachedSearchIndex(fake.index, { cache });
    expect(hitId(await searchSide.search(request('a')))).toBe('v1');
    expect(hitId(await searchSide.search(request('a')))).toBe('v1');
    expect(fake.state.calls).toBe(1);
    fake.indexNow('v2');
    await indexerSide.apply(change('a'));
    expect(hitId(await searchSide.search(request('a')))).toBe('v2');
    expect(fake.state.calls).toBe(2);
  });

  it('does not keep a result computed before the indexing as fresh after it', async () => {
    const fake = fakeIndex();
    const cache = createMemoryCache();
    const index = cachedSearchIndex(fake.index, { cache });
    const release = fake.hold();
    const racing = index.search(request('a'));
    // The index moves on and the indexer bumps while that search is still in flight.
    await new Promise((resolve) => setTimeout(resolve, 10));
    fake.indexNow('v2');
    await index.apply(change('a'));
    release();
    expect(hitId(await racing)).toBe('v1');
    expect(hitId(await index.search(request('a')))).toBe('v2');
  });

  it('bounds the in-process cache by total size, and keeps no value larger than that', async () => {
    const cache = createMemoryCache({ maxEntries: 1000, maxBytes: 64 * 1024 });
    const page = 'x'.repeat(10 * 1024);
    for (let i = 0; i < 20; i += 1) await cache.set(tenantKey('acme', 'page', String(i)), page, 60);
    const kept = await cache.getMany(
      Array.from({ length: 20 }, (_, i) => tenantKey('acme', 'page', String(i))),
    );
    // The newest entries stay, within the bound; the oldest went first.
    expect(kept.filter(Boolean).length).toBeLessThanOrEqual(6);
    expect(kept.at(-1)).toBe(page);
    expect(kept[0]).toBeUndefined();
    await cache.set(tenantKey('acme', 'huge'), 'x'.repeat(100 * 1024), 60);
    expect(await cache.get(tenantKey('acme', 'huge'))).toBeUndefined();
  });

  it('keeps tenants apart and serves the last page as stale only when the backend is unavailable', async () => {
    const fake = fakeIndex();
    const lookups: string[] = [];
    const events = lookupsOf(lookups, 'search');
    const index = cachedSearchIndex(fake.index, { cache: createMemoryCache(), events });
    await index.search(request('a'));
    await index.apply(change('a'));
    fake.fail(new DependencyUnavailableError('search-index', new Error('down')));
    const stale = await index.search(request('a'));
    expect(stale.stale).toBe(true);
    expect(hitId(stale)).toBe('v1');
    // One lookup each, so the hit ratio's denominator counts requests: a stale page is not also a miss.
    expect(lookups).toEqual(['miss', 'stale']);
    await expect(index.search(request('b'))).rejects.toBeInstanceOf(DependencyUnavailableError);
    await expect(index.search(request('a', 'other'))).rejects.toBeInstanceOf(DependencyUnavailableError);
    fake.fail(new Error('a bug, not an outage'));
    await expect(index.search(request('a'))).rejects.toThrow('a bug');
  });
});

describe('search cache keys and lifetimes', () => {
  const base = request('a');
  const variants: [string, SearchRequest][] = [
    ['text', { ...base, text: 'other' }],
    ['highlights', { ...base, highlights: true }],
    ['typo tolerance', { ...base, typoTolerance: false }],
    ['did you mean', { ...base, didYouMean: true }],
    ['sort', { ...base, sort: 'UPDATED_DESC' }],
    ['page size', { ...base, first: 20 }],
    ['cursor', { ...base, after: [1, 'd'] }],
    ['paging session', { ...base, session: 'pit-1' }],
    ['facets', { ...base, facets: ['TAGS'] }],
    ['tags', { ...base, filter: { tags: ['x'] } }],
    ['other tags', { ...base, filter: { tags: ['y'] } }],
    ['status', { ...base, filter: { status: ['PUBLISHED'] } }],
    ['other status', { ...base, filter: { status: ['DRAFT'] } }],
    ['author', { ...base, filter: { author: 'ada' } }],
    ['updated after', { ...base, filter: { updatedAfter: new Date(1000) } }],
    ['updated before', { ...base, filter: { updatedBefore: new Date(1000) } }],
  ];

  it('keeps a page per request: whatever changes the answer is in the key, the order of a set is not', async () => {
    const fake = fakeIndex();
    const index = cachedSearchIndex(fake.index, { cache: createMemoryCache() });
    await index.search(base);
    for (const [what, variant] of variants) {
      const before = fake.state.calls;
      await index.search(variant);
      expect(fake.state.calls, what).toBe(before + 1);
    }
    const before = fake.state.calls;
    for (const [what, variant] of variants)
      expect((await index.search(variant)).cacheStatus, what).toBe('hit');
    // The defaults spelled out are the same request.
    await index.search({ ...base, highlights: false, typoTolerance: true, didYouMean: false });
    const twoOfEach = {
      ...base,
      facets: ['TAGS', 'STATUS'] as const,
      filter: { tags: ['x', 'y'], status: ['DRAFT', 'PUBLISHED'] as const },
    };
    await index.search(twoOfEach);
    await index.search({
      ...twoOfEach,
      facets: ['STATUS', 'TAGS'],
      filter: { tags: ['y', 'x'], status: ['PUBLISHED', 'DRAFT'] },
    });
    expect(fake.state.calls).toBe(before + 1);
  });

  it('keeps a fresh page for ttlSeconds and the last page for staleTtlSeconds, by default a minute and a day', async () => {
    const lifetimes = (cache: Cache) => {
      const kept: [string, number][] = [];
      return {
        kept,
        cache: {
          ...cache,
          set: (key: string, value: string, ttl: number) => {
            kept.push([key.includes(':search-stale:') ? 'stale' : 'fresh', ttl]);
            return cache.set(key, value, ttl);
          },
        } as Cache,
      };
    };
    const defaults = lifetimes(createMemoryCache());
    await cachedSearchIndex(fakeIndex().index, { cache: defaults.cache }).search(base);
    expect(defaults.kept.sort()).toEqual([
      ['fresh', 60],
      ['stale', 86_400],
    ]);
    const chosen = lifetimes(createMemoryCache());
    await cachedSearchIndex(fakeIndex().index, {
      cache: chosen.cache,
      ttlSeconds: 5,
      staleTtlSeconds: 50,
    }).search(base);
    expect(chosen.kept.sort()).toEqual([
      ['fresh', 5],
      ['stale', 50],
    ]);
  });

  it('searches the index when the cache fails, and counts the lookup as an error', async () => {
    const fake = fakeIndex();
    const lookups: string[] = [];
    const events = lookupsOf(lookups, 'search');
    const failing = { ...createMemoryCache(), get: () => Promise.reject(new Error('redis down')) } as Cache;
    const index = cachedSearchIndex(fake.index, { cache: failing, events });
    const page = await index.search(base);
    expect(hitId(page)).toBe('v1');
    expect(page.cacheStatus).toBe('miss');
    expect(lookups).toEqual(['error']);
    // With the stale copy unreadable too, an outage is the index's own error.
    fake.fail(new DependencyUnavailableError('search-index', new Error('down')));
    await expect(index.search(base)).rejects.toBeInstanceOf(DependencyUnavailableError);
    expect(lookups).toEqual(['error', 'error']);
  });

  it('marks each page with how it was served, and counts hits', async () => {
    const fake = fakeIndex();
    const lookups: string[] = [];
    const events = lookupsOf(lookups, 'search');
    const index = cachedSearchIndex(fake.index, { cache: createMemoryCache(), events });
    const first = await index.search(base);
    const second = await index.search(base);
    expect([first.cacheStatus, second.cacheStatus]).toEqual(['miss', 'hit']);
    expect(second.stale).toBeUndefined();
    expect(second.hits).toEqual(first.hits);
    expect(lookups).toEqual(['miss', 'hit']);
    fake.fail(new DependencyUnavailableError('search-index', new Error('down')));
    // Past its generation, the page is served only as the last known one.
    await index.apply(change('a'));
    expect((await index.search(base)).cacheStatus).toBe('stale');
  });

  it("bumps only the applied tenants' generations, and passes suggestions and close through", async () => {
    const fake = fakeIndex();
    let closed = 0;
    const inner = {
      ...fake.index,
      suggest: async (tenantId: string, prefix: string, first: number) => [`${tenantId}:${prefix}:${first}`],
      close: async () => {
        closed++;
      },
    };
    const index = cachedSearchIndex(inner, { cache: createMemoryCache() });
    await index.search(request('a'));
    await index.search(request('b'));
    expect(await index.apply(change('a'))).toEqual({ rejected: [] });
    expect((await index.search(request('b'))).cacheStatus).toBe('hit');
    expect((await index.search(request('a'))).cacheStatus).toBe('miss');
    expect(await index.suggest('a', 'gra', 3)).toEqual(['a:gra:3']);
    await index.close();
    expect(closed).toBe(1);
  });

  it('stops serving cached pages of a tenant whose synonyms were replaced', async () => {
    const fake = fakeIndex();
    const cache = createMemoryCache();
    const index = cachedSearchIndex(fake.index, { cache });
    const replaced: string[] = [];
    const synonyms = searchCacheBumpingSynonyms(
      {
        synonyms: async () => ({ equivalents: [], rules: [] }),
        replaceSynonyms: async (tenantId) => {
          replaced.push(tenantId);
        },
      },
      { cache },
    );
    await index.search(request('a'));
    await index.search(request('b'));
    await synonyms.replaceSynonyms('a', { equivalents: [], rules: [] });
    expect(replaced).toEqual(['a']);
    expect((await index.search(request('a'))).cacheStatus).toBe('miss');
    expect((await index.search(request('b'))).cacheStatus).toBe('hit');
    expect(await synonyms.synonyms('a')).toEqual({ equivalents: [], rules: [] });
    synonyms.stop();
  });
});

describe('search cache retries', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A memory cache whose increments fail, counting them. */
  function failingBumps() {
    const state = { increments: 0 };
    const cache: Cache = {
      ...createMemoryCache(),
      increment: () => {
        state.increments++;
        return Promise.reject(new Error('redis down'));
      },
    };
    return { cache, state };
  }

  it('retries a failed bump after retryBumpMs, and stops when closed', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { cache, state } = failingBumps();
    const index = cachedSearchIndex(fakeIndex().index, { cache, retryBumpMs: 100 });
    await index.apply(change('a'));
    await vi.advanceTimersByTimeAsync(100);
    expect(state.increments).toBe(2);
    await index.close();
    await vi.advanceTimersByTimeAsync(1000);
    expect(state.increments).toBe(2);
  });

  it("retries a failed bump of a tenant's synonyms after retryBumpMs, and stops when stopped", async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { cache, state } = failingBumps();
    const synonyms = searchCacheBumpingSynonyms(
      { synonyms: async () => ({ equivalents: [], rules: [] }), replaceSynonyms: async () => {} },
      { cache, retryBumpMs: 100 },
    );
    await synonyms.replaceSynonyms('a', { equivalents: [], rules: [] });
    await vi.advanceTimersByTimeAsync(100);
    expect(state.increments).toBe(2);
    synonyms.stop();
    await vi.advanceTimersByTimeAsync(1000);
    expect(state.increments).toBe(2);
  });
});

describe("search cache over an index with Elasticsearch's refresh delay", () => {
  it('serves an applied write at once: the generation is bumped only once the write is searchable', async () => {
    const inner = new SqliteSearchIndex(new EmbeddedDatabase(':memory:'));
    const index = refreshingSearchIndex(inner, { refreshIntervalMs: 200, waitForRefresh: true });
    const cached = cachedSearchIndex(index, { cache: createMemoryCache() });
    const titles = async () =>
      (await cached.search(request('acme', 'granite'))).hits.map((hit) => hit.documentId);
    try {
      expect(await titles()).toEqual([]);
      const at = new Date();
      const document = {
        id: 'd1',
        tenantId: 'acme',
        title: 'Granite runbook',
        body: 'granite',
        tags: [],
        author: null,
        status: 'PUBLISHED' as const,
        version: 1,
        createdAt: at,
        updatedAt: at,
      };
      const applying = cached.apply([
        {
          sequence: '1',
          tenantId: 'acme',
          documentId: 'd1',
          version: 1,
          operation: 'upsert',
          document,
          committedAt: at,
        },
      ]);
      // Searches while the write waits for its refresh: each may cache the old hits, under the old generation only.
      let searching = true;
      const racing = (async () => {
        // setImmediate between searches: a memory cache and the embedded index answer without yielding.
        while (searching) {
          await titles();
          await new Promise((resolve) => setImmediate(resolve));
        }
      })();
      await applying;
      searching = false;
      await racing;
      expect(await titles()).toEqual(['d1']);
    } finally {
      await cached.close();
    }
  });
});

describe('document cache', () => {
  function fakeStore() {
    const documents = new Map<string, DocumentRecord>();
    const state = { reads: 0 };
    const record = (id: string, title: string, version: number): DocumentRecord => ({
      id,
      tenantId: 't',
      title,
      body: '',
      tags: [],
      author: null,
      status: 'DRAFT',
      version,
      createdAt: new Date(0),
      updatedAt: new Date(version),
    });
    documents.set('t/1', record('1', 'first', 1));
    const store = {
      async findByIds(tenantId: string, ids: readonly string[]) {
        state.reads++;
        return ids.map((id) => documents.get(`${tenantId}/${id}`) ?? null);
      },
      async update(tenantId: string, id: string, patch: { title?: string }) {
        const current = documents.get(`${tenantId}/${id}`)!;
        const next = { ...current, title: patch.title ?? current.title, version: current.version + 1 };
        documents.set(`${tenantId}/${id}`, next);
        return next;
      },
    } as unknown as DocumentStore;
    return { store, state };
  }

  /** A cache that can be made to fail, like Redis behind an open breaker. */
  function switchableCache(): Cache & { down: boolean } {
    const inner = createMemoryCache();
    const guard =
      <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
      (...args: A) =>
        wrapper.down ? Promise.reject(new Error('redis down')) : fn(...args);
    const wrapper = {
      name: 'switchable',
      down: false,
      get: guard(inner.get),
      getMany: guard(inner.getMany),
      set: guard(inner.set),
      setMany: guard(inner.setMany),
      delete: guard(inner.delete),
      increment: guard(inner.increment),
      readCounter: guard(inner.readCounter),
      setNewer: guard(inner.setNewer),
    };
    return wrapper;
  }

  it('reads through, revives dates, and a client reads its own write', async () => {
    const { store, state } = fakeStore();
    const cached = cachedDocumentStore(store, { cache: createMemoryCache() });
    const [first] = await cached.findByIds('t', ['1']);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const [again] = await cached.findByIds('t', ['1']);
    expect(state.reads).toBe(1);
    expect(again).toEqual(first);
    expect(again!.updatedAt).toBeInstanceOf(Date);
    await cached.update('t', '1', { title: 'second' });
    expect((await cached.findByIds('t', ['1']))[0]!.title).toBe('second');
    expect(await cached.findByIds('other', ['1'])).toEqual([null]);
  });

  it('fences a write that failed but may still commit: no replica caches the document meanwhile', async () => {
    const { store } = fakeStore();
    const lateCommits: (() => Promise<unknown>)[] = [];
    // Like a MongoDB commit that lands after the caller's timeout gave up on it.
    const timingOut = {
      ...store,
      async update(tenantId: string, id: string, patch: { title?: string }) {
        lateCommits.push(() => store.update(tenantId, id, patch));
        throw new DependencyUnavailableError('documents-store', new Error('timed out'));
      },
    } as DocumentStore;
    const cache = createMemoryCache();
    const cached = cachedDocumentStore(timingOut, { cache, uncertainWriteMs: 100 });
    const title = async () => (await cached.findByIds('t', ['1']))[0]!.title;

    expect(await title()).toBe('first');
    await expect(cached.update('t', '1', { title: 'second' })).rejects.toThrow(/unavailable/);
    expect(await title()).toBe('first');
    await lateCommits[0]!();
    expect(await title()).toBe('second');
    // Another replica read the old version in the window and cached it.
    const old = (await store.findByIds('t', ['1']))[0]!;
    await cache.setNewer(
      tenantKey('t', 'versioned-document', '1'),
      1,
      JSON.stringify({ ...old, version: 1, title: 'first' }),
      60,
    );
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(await title()).toBe('second');
  });

  it.each([
    ['memory', () => createMemoryCache()],
    ['redis', () => createRedisCache({ redis: redis.client })],
  ] as const)('never lets a read that raced a write put back the older version (%s)', async (_name, make) => {
    const { store } = fakeStore();
    let releaseRead: () => void = () => {};
    let readStarted: () => void = () => {};
    const started = new Promise<void>((resolve) => {
      readStarted = resolve;
    });
    // A read that fetched version 1 and is slow to hand it back, while an update commits version 2.
    const slowFirstRead = {
      ...store,
      async findByIds(tenantId: string, ids: readonly string[]) {
        const snapshot = await store.findByIds(tenantId, ids);
        readStarted();
        await new Promise<void>((resolve) => {
          releaseRead = resolve;
        });
        slowFirstRead.findByIds = store.findByIds;
        return snapshot;
      },
    } as DocumentStore;
    const inner = make();
    const cacheWrites: Promise<void>[] = [];
    const cache: Cache = {
      ...inner,
      setNewer: (...args) => {
        const written = inner.setNewer(...args);
        cacheWrites.push(written);
        return written;
      },
    };
    const cached = cachedDocumentStore(slowFirstRead, { cache });
    const racingRead = cached.findByIds('t', ['1']);
    await started;
    await cached.update('t', '1', { title: 'second' });
    releaseRead();
    expect((await racingRead)[0]!.title).toBe('first');
    // The racing read stores what it read without being awaited; a read after that must see the write.
    await Promise.all(cacheWrites);
    expect((await cached.findByIds('t', ['1']))[0]!.title).toBe('second');
  });

  it('owes an invalidation that failed while the cache was down, and pays it before reading again', async () => {
    const { store } = fakeStore();
    const cache = switchableCache();
    const cached = cachedDocumentStore(store, { cache });
    await cached.findByIds('t', ['1']);
    await new Promise((resolve) => setTimeout(resolve, 5));
    cache.down = true;
    await cached.update('t', '1', { title: 'written while Redis was down' });
    cache.down = false;
    expect((await cached.findByIds('t', ['1']))[0]!.title).toBe('written while Redis was down');
  });

  /** The fake store with every other port method: deletes, creates under a chosen id, and the outbox calls. */
  function fullStore() {
    const { store, state } = fakeStore();
    const calls: string[] = [];
    const full = {
      ...store,
      async create(tenantId: string, document: { title: string }, id = 'generated') {
        const created = { ...(await store.findByIds('t', ['1']))[0]!, ...document, id, tenantId, version: 1 };
        return created;
      },
      async delete() {
        return true;
      },
      usage: async (tenantId: string) => {
        calls.push(`usage:${tenantId}`);
        return { documents: 1, bytes: 2 };
      },
      pull: async (limit: number) => {
        calls.push(`pull:${limit}`);
        return [];
      },
      acknowledge: async (changes: readonly unknown[]) => {
        calls.push(`acknowledge:${changes.length}`);
      },
      oldestPendingAt: async () => {
        calls.push('oldestPendingAt');
        return null;
      },
      close: async () => {
        calls.push('close');
      },
    } as unknown as DocumentStore;
    return { store: full, state, calls };
  }

  /** A memory cache recording the TTL of every `setNewer`, by whether it stored a fence or a document. */
  function ttlRecording() {
    const inner = createMemoryCache();
    const stored: [string, number][] = [];
    const cache: Cache = {
      ...inner,
      setNewer: (key, version, value, ttl) => {
        stored.push([
          value === '' ? `fence@${version === Number.MAX_SAFE_INTEGER ? 'closed' : version}` : 'document',
          ttl,
        ]);
        return inner.setNewer(key, version, value, ttl);
      },
    };
    return { cache, stored };
  }

  it('keeps documents and write fences for ttlSeconds, five minutes by default, and an uncertain write closed for its window', async () => {
    const { store } = fakeStore();
    const failing = {
      ...store,
      update: () => Promise.reject(new DependencyUnavailableError('documents-store', new Error('timed out'))),
    } as DocumentStore;
    const byDefault = ttlRecording();
    const cached = cachedDocumentStore(failing, { cache: byDefault.cache });
    await cached.findByIds('t', ['1']);
    await expect(cached.update('t', '1', { title: 'x' })).rejects.toThrow();
    await new Promise((resolve) => setImmediate(resolve));
    expect(byDefault.stored).toEqual([
      ['document', 300],
      ['fence@closed', 125],
    ]);
    const chosen = ttlRecording();
    const written = cachedDocumentStore(store, { cache: chosen.cache, ttlSeconds: 30 });
    await written.update('t', '1', { title: 'y' });
    await written.findByIds('t', ['1']);
    await new Promise((resolve) => setImmediate(resolve));
    expect(chosen.stored).toEqual([
      ['fence@2', 30],
      ['document', 30],
    ]);
    const uncertain = ttlRecording();
    await expect(
      cachedDocumentStore(failing, { cache: uncertain.cache, uncertainWriteMs: 2500 }).update('t', '1', {}),
    ).rejects.toThrow();
    expect(uncertain.stored).toEqual([['fence@closed', 3]]);
  });

  it('keeps a deleted document out: a read that fetched it before the delete cannot put it back', async () => {
    const { store } = fullStore();
    const cache = createMemoryCache();
    const cached = cachedDocumentStore(store, { cache });
    const before = (await store.findByIds('t', ['1']))[0]!;
    expect(await cached.delete('t', '1')).toBe(true);
    // The read that raced the delete stores the version it fetched.
    await cache.setNewer(
      tenantKey('t', 'versioned-document', '1'),
      before.version,
      JSON.stringify(before),
      60,
    );
    let reads = 0;
    const counting = cachedDocumentStore(
      {
        ...store,
        findByIds: async () => {
          reads++;
          return [null];
        },
      },
      { cache },
    );
    expect(await counting.findByIds('t', ['1'])).toEqual([null]);
    expect(reads).toBe(1);
  });

  it("fences a create under a chosen id that failed, and passes the store's answers through without a fence", async () => {
    const { store } = fullStore();
    const cache = createMemoryCache();
    const refusing = {
      ...store,
      create: () => Promise.reject(new DependencyUnavailableError('documents-store', new Error('timed out'))),
      update: () => Promise.reject(new VersionConflictError(1)),
    } as DocumentStore;
    const cached = cachedDocumentStore(refusing, { cache });
    await expect(
      cached.create('t', { title: 'x', body: '', tags: [], author: null, status: 'DRAFT' }, 'chosen'),
    ).rejects.toThrow();
    expect(await cache.get(tenantKey('t', 'versioned-document', 'chosen'))).toBe(
      `${Number.MAX_SAFE_INTEGER}:`,
    );
    await expect(
      cached.create('t', { title: 'x', body: '', tags: [], author: null, status: 'DRAFT' }),
    ).rejects.toThrow();
    expect(await cache.get(tenantKey('t', 'versioned-document', 'generated'))).toBeUndefined();
    // A conflict wrote nothing: the cached document is still good.
    await cached.findByIds('t', ['1']);
    await new Promise((resolve) => setImmediate(resolve));
    await expect(cached.update('t', '1', { title: 'x' }, 0)).rejects.toBeInstanceOf(VersionConflictError);
    expect(
      parseVersionedValue((await cache.get(tenantKey('t', 'versioned-document', '1')))!)?.value,
    ).not.toBe('');
  });

  it('creates with the store, fencing the new id at its version, and passes the outbox calls and usage through', async () => {
    const { store, calls } = fullStore();
    const cache = createMemoryCache();
    const cached = cachedDocumentStore(store, { cache });
    const created = await cached.create(
      't',
      { title: 'new', body: '', tags: [], author: null, status: 'DRAFT' },
      'n1',
    );
    expect(created).toMatchObject({ id: 'n1', title: 'new', version: 1 });
    expect(await cache.get(tenantKey('t', 'versioned-document', 'n1'))).toBe('1:');
    expect(await cached.usage('t')).toEqual({ documents: 1, bytes: 2 });
    expect(await cached.pull(7)).toEqual([]);
    await cached.acknowledge([]);
    expect(await cached.oldestPendingAt()).toBeNull();
    await cached.close();
    expect(calls).toEqual(['usage:t', 'pull:7', 'acknowledge:0', 'oldestPendingAt', 'close']);
  });

  it('answers a batch of hits and misses in the order asked, per tenant, and counts each lookup', async () => {
    const { store, state } = fakeStore();
    const lookups: string[] = [];
    const events = lookupsOf(lookups, 'documents');
    const cached = cachedDocumentStore(store, { cache: createMemoryCache(), events });
    await cached.findByIds('t', ['1']);
    await new Promise((resolve) => setImmediate(resolve));
    const batch = await cached.findByIds('t', ['missing', '1', 'also missing']);
    expect(batch.map((document) => document?.title ?? null)).toEqual([null, 'first', null]);
    expect(lookups.slice(1).sort()).toEqual(['hit', 'miss', 'miss']);
    expect(state.reads).toBe(2);
    // Another tenant's id is another key.
    expect(await cached.findByIds('u', ['1'])).toEqual([null]);
  });

  it('reads from the store when the cache fails, and counts each lookup as an error', async () => {
    const { store, state } = fakeStore();
    const lookups: string[] = [];
    const events = lookupsOf(lookups, 'documents');
    const cache = switchableCache();
    const cached = cachedDocumentStore(store, { cache, events });
    cache.down = true;
    const [first, missing] = await cached.findByIds('t', ['1', 'missing']);
    expect(first?.title).toBe('first');
    expect(missing).toBeNull();
    expect(state.reads).toBe(1);
    // One outcome per document, as for hits and misses: not also a miss.
    expect(lookups).toEqual(['error', 'error']);
  });

  /** One document, updated and deleted for real, so two replicas' caches can be checked against it. */
  function liveStore() {
    const { store } = fakeStore();
    let deleted = false;
    return {
      ...store,
      findByIds: async (tenantId: string, ids: readonly string[]) =>
        deleted ? ids.map(() => null) : store.findByIds(tenantId, ids),
      async delete() {
        deleted = true;
        return true;
      },
    } as DocumentStore;
  }

  it('pays a fence owed while Redis was down before its next read, so other replicas stop serving the old version', async () => {
    const store = liveStore();
    const cache = switchableCache();
    const writer = cachedDocumentStore(store, { cache });
    const otherReplica = cachedDocumentStore(store, { cache });
    await otherReplica.findByIds('t', ['1']);
    await new Promise((resolve) => setImmediate(resolve));
    cache.down = true;
    await writer.update('t', '1', { title: 'written while Redis was down' });
    cache.down = false;
    await writer.findByIds('t', ['1']);
    expect((await otherReplica.findByIds('t', ['1']))[0]!.title).toBe('written while Redis was down');
  });

  it('reads around the cache while a fence is still owed, even when the cache answers reads', async () => {
    const store = liveStore();
    const inner = switchableCache();
    const state = { writesFail: false };
    const cache: Cache = {
      ...inner,
      setNewer: (...args) =>
        state.writesFail ? Promise.reject(new Error('READONLY')) : inner.setNewer(...args),
    };
    const lookups: string[] = [];
    const cached = cachedDocumentStore(store, { cache, events: lookupsOf(lookups, 'documents') });
    await cached.findByIds('t', ['1']);
    await new Promise((resolve) => setImmediate(resolve));
    state.writesFail = true;
    await cached.update('t', '1', { title: 'second' });
    // The fence could not be set, and the cache still holds the first version.
    lookups.length = 0;
    expect((await cached.findByIds('t', ['1']))[0]!.title).toBe('second');
    // Counted as a cache that could not be used, once.
    expect(lookups).toEqual(['error']);
  });

  it('owes the stronger fence when a delete follows an update whose fence was not set', async () => {
    const store = liveStore();
    const cache = switchableCache();
    const cached = cachedDocumentStore(store, { cache });
    cache.down = true;
    const updated = await cached.update('t', '1', { title: 'second' });
    await cached.delete('t', '1');
    cache.down = false;
    expect(await cached.findByIds('t', ['1'])).toEqual([null]);
    // A replica whose read of the update raced the delete stores it now: the delete's fence keeps it out.
    await cache.setNewer(
      tenantKey('t', 'versioned-document', '1'),
      updated.version,
      JSON.stringify(updated),
      60,
    );
    expect(await cachedDocumentStore(store, { cache }).findByIds('t', ['1'])).toEqual([null]);
  });
});

import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createResponseCache,
  drawRefreshPoint,
  type Lookup,
} from '../../gateway/response-cache/response-cache.ts';
import {
  createMemoryCache,
  createRedisCache,
  createRedisClient,
  resilientCache,
} from '../../server/cache/index.ts';
import { createLogger } from '../../server/logger.ts';
import { createResilience } from '../../server/resilience/index.ts';
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.ts';
import { useTestRedis } from '../helpers/redis-server.ts';

const bodyOf = (lookup: Lookup) => ('hit' in lookup ? lookup.hit.body.toString('utf8') : undefined);

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
    const writer = createResponseCache({
      cache: resilientCache(createRedisCache({ redis: client }), policy),
    });
    const other = createResponseCache({
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
    const responses = createResponseCache({ cache: make(), maxEntryBytes: 1024, nearMaxBytes: 1024 * 1024 });
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
      const responses = createResponseCache({
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
    const current = createResponseCache({ cache, deployment: 'supergraph-1' });
    const next = createResponseCache({ cache, deployment: 'supergraph-2' });
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
    expect(Math.max(...short)).toBeLessThanOrEqual(4);
    expect(drawRefreshPoint(60, 0)).toBe(60);
  });
});

import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import {
  createMemoryRateLimitStore,
  createRedisRateLimitStore,
  type RateLimit,
  type RateLimitStore,
  withLeases,
  withLocalFallback,
} from '../../server/rate-limit/index.ts';
import { createResilience } from '../../server/resilience/index.ts';
import { useTestRedis } from '../helpers/redis-server.ts';

const limit = { perSecond: 1, burst: 4 };

async function takeAll(store: RateLimitStore, key: string, count: number, bucket: RateLimit = limit) {
  const decisions = [];
  for (let take = 0; take < count; take++) decisions.push(await store.consume(key, bucket));
  return decisions;
}

/** Token-bucket scripts Redis has run so far: each is one round trip. */
async function bucketCalls(redis: Redis): Promise<number> {
  const stats = await redis.info('commandstats');
  return Number(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1] ?? 0);
}

describe('rate-limit stores', () => {
  const redis = useTestRedis();
  const leased = (leaseMs: number, lifetimeMs?: number) =>
    withLeases({
      store: createRedisRateLimitStore({ redis: redis.client }),
      policy: createResilience().policy('redis'),
      leaseMs,
      lifetimeMs,
    });

  for (const [name, make] of [
    ['memory', () => createMemoryRateLimitStore()],
    ['redis', () => createRedisRateLimitStore({ redis: redis.client })],
    ['redis through leases, where a lease would be under two tokens', () => leased(10)],
  ] as const) {
    it(`${name}: allows the burst, then refuses with a retry-after hint, per key`, async () => {
      const store = make();
      const decisions = await takeAll(store, `${name}:a`, 5);
      expect(decisions.map((decision) => decision.allowed)).toEqual([true, true, true, true, false]);
      expect(decisions[4]!.retryAfterSeconds).toBeGreaterThanOrEqual(1);
      expect((await store.consume(`${name}:b`, limit)).allowed).toBe(true);
    });
  }

  it('leases tokens in batches: one round trip per lease, not per request', async () => {
    const store = leased(100);
    // A lease holds 100 ms of a 100/s refill: 10 tokens.
    const bucket = { perSecond: 100, burst: 1000 };
    const before = await bucketCalls(redis.client);
    const decisions = await Promise.all(
      Array.from({ length: 100 }, () => store.consume('lease:batches', bucket)),
    );
    expect(decisions.every((decision) => decision.allowed)).toBe(true);
    const calls = (await bucketCalls(redis.client)) - before;
    expect(calls).toBeGreaterThanOrEqual(10);
    expect(calls).toBeLessThanOrEqual(11);
  });

  it('two replicas leasing from one bucket together admit no more than the bucket holds', async () => {
    const replicas = [leased(100), leased(100)];
    const bucket = { perSecond: 100, burst: 200 };
    const startedAt = performance.now();
    const decisions = await Promise.all(
      Array.from({ length: 600 }, (_, index) => replicas[index % 2]!.consume('lease:shared', bucket)),
    );
    const elapsedMs = performance.now() - startedAt;
    const admitted = decisions.filter((decision) => decision.allowed).length;
    expect(admitted).toBeGreaterThanOrEqual(bucket.burst);
    expect(admitted).toBeLessThanOrEqual(bucket.burst + Math.ceil((elapsedMs * bucket.perSecond) / 1000) + 1);
    const refused = decisions.find((decision) => !decision.allowed);
    expect(refused?.retryAfterSeconds).toBeGreaterThanOrEqual(1);
  });

  it('drops leased tokens not spent within their lifetime, and leases again', async () => {
    const store = leased(100, 50);
    const bucket = { perSecond: 100, burst: 1000 };
    const before = await bucketCalls(redis.client);
    await store.consume('lease:expiry', bucket);
    await store.consume('lease:expiry', bucket);
    expect((await bucketCalls(redis.client)) - before).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 80));
    await store.consume('lease:expiry', bucket);
    expect((await bucketCalls(redis.client)) - before).toBe(2);
    // Two leases of 10 were taken from the shared bucket, whatever was spent of them.
    const tokens = Number(await redis.client.hget('lease:expiry', 'tokens'));
    expect(tokens).toBeLessThanOrEqual(bucket.burst - 20 + 10);
  });

  for (const [name, bucket, leaseMs] of [
    ['one token per take', limit, 10],
    ['leased tokens', { perSecond: 100, burst: 40 }, 100],
  ] as const) {
    it(`${name}: falls back to a stricter local limit while Redis is down, and back to Redis after`, async () => {
      const resilience = createResilience({ failureThreshold: 1, halfOpenAfterMs: 200, timeoutMs: 200 });
      const store = withLocalFallback({
        primary: withLeases({
          store: createRedisRateLimitStore({ redis: redis.client }),
          policy: resilience.policy('redis'),
          leaseMs,
        }),
        fallback: createMemoryRateLimitStore(),
        fraction: 0.5,
      });
      const key = `fallback:${name}`;
      const all = (decisions: { allowed: boolean }[]) => decisions.every((decision) => decision.allowed);
      expect(all(await takeAll(store, `${key}:shared`, bucket.burst, bucket))).toBe(true);
      await redis.server.kill();
      // Half of the burst, counted in this process.
      const local = await takeAll(store, `${key}:local`, bucket.burst / 2 + 1, bucket);
      expect(local.map((decision) => decision.allowed)).toEqual([
        ...Array.from({ length: bucket.burst / 2 }, () => true),
        false,
      ]);
      expect(resilience.states().redis).toBe('open');
      await redis.server.restart();
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(all(await takeAll(store, `${key}:again`, bucket.burst, bucket))).toBe(true);
      expect(resilience.states().redis).toBe('closed');
    });
  }
});

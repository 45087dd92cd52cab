import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { takeToken } from '../../gateway/admission/index.ts';
import { createRedisClient } from '../../server/cache/redis-client.ts';
import { createLogger } from '../../server/logger.ts';
import {
  createMemoryRateLimitStore,
  createRedisRateLimitStore,
  type LeasingRateLimitStore,
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

/**
 * The Redis store with its takes held back until `release()`, so a test can
 * see which requests wait on Redis and which are served from the lease.
 */
function heldBack(store: LeasingRateLimitStore) {
  let gate: Promise<void> = Promise.resolve();
  let open = () => {};
  const wanted: number[] = [];
  let pending = 0;
  return {
    wanted,
    get pending() {
      return pending;
    },
    hold() {
      gate = new Promise((resolve) => {
        open = resolve;
      });
    },
    release: () => open(),
    store: {
      ...store,
      async takeUpTo(key, limit, count) {
        wanted.push(count);
        pending += 1;
        await gate;
        try {
          return await store.takeUpTo(key, limit, count);
        } finally {
          pending -= 1;
        }
      },
    } satisfies LeasingRateLimitStore,
  };
}

/** Whether `promise` settles without waiting on I/O or timers. */
async function settlesAtOnce(promise: Promise<unknown>): Promise<boolean> {
  const later = new Promise((resolve) => setImmediate(resolve, 'later'));
  return (await Promise.race([promise.then(() => 'now'), later])) === 'now';
}

describe('rate-limit stores', () => {
  const redis = useTestRedis();
  // The leasing tests count tokens, not timeouts: production's 250 ms command timeout failed a top-up
  // that a loaded test machine delayed.
  let patientClient: Redis;
  beforeAll(() => {
    patientClient = createRedisClient({
      url: redis.server.url,
      commandTimeoutMs: 10_000,
      logger: createLogger({ level: 'silent' }),
    });
  });
  afterAll(() => patientClient.disconnect());
  const leased = (leaseMs: number, lifetimeMs?: number) =>
    withLeases({
      store: createRedisRateLimitStore({ redis: patientClient }),
      policy: createResilience({ timeoutMs: 10_000 }).policy('redis'),
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

  it("gives a tier claim that names no configured tier the standard budget, even one of Object's own names", async () => {
    const tiers = { standard: { perSecond: 1, burst: 2 } };
    for (const tier of ['gold', 'constructor', 'toString', '__proto__']) {
      const store = createMemoryRateLimitStore();
      const decisions = await Promise.all(
        [1, 2, 3].map(() => takeToken({ store, tiers }, { tenantId: 't', tier })),
      );
      expect(
        decisions.map((decision) => decision.allowed),
        tier,
      ).toEqual([true, true, false]);
      expect(decisions[2]!.retryAfterSeconds, tier).toBe(1);
    }
  });

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
    // After the first, each take tops up what the lease lacks: at least three quarters of it.
    expect(calls).toBeLessThanOrEqual(1 + Math.ceil(90 / 7.5));
  });

  it('tops a lease up before it runs dry, asking only for what it lacks, so no request waits on Redis', async () => {
    const redisStore = heldBack(createRedisRateLimitStore({ redis: redis.client }));
    const store = withLeases({
      store: redisStore.store,
      policy: createResilience().policy('redis'),
      leaseMs: 100,
    });
    // A lease of 10 tokens.
    const bucket = { perSecond: 100, burst: 1000 };
    await store.consume('lease:top-up', bucket);
    redisStore.hold();
    for (let spent = 1; spent < 10; spent++) {
      expect(await settlesAtOnce(store.consume('lease:top-up', bucket))).toBe(true);
    }
    // The top-up started when a quarter was left (2 tokens), for the 8 the lease lacked.
    expect(redisStore.wanted).toEqual([10, 8]);
    expect(redisStore.pending).toBe(1);
    // The lease is dry now: the next request waits on that top-up, and no other take starts.
    const waiting = store.consume('lease:top-up', bucket);
    expect(await settlesAtOnce(waiting)).toBe(false);
    redisStore.release();
    expect((await waiting).allowed).toBe(true);
    expect(redisStore.wanted).toEqual([10, 8]);
  });

  it('tops a lease up in the last tenth of its lifetime, and keeps its unspent tokens live', async () => {
    const clock = { now: 1_000_000 };
    const redisStore = heldBack(createRedisRateLimitStore({ redis: redis.client }));
    const store = withLeases({
      store: redisStore.store,
      policy: createResilience().policy('redis'),
      leaseMs: 100,
      lifetimeMs: 1000,
      now: () => clock.now,
    });
    const bucket = { perSecond: 100, burst: 1000 };
    await store.consume('lease:expiry-ahead', bucket);
    clock.now += 850;
    await store.consume('lease:expiry-ahead', bucket);
    expect(redisStore.wanted).toEqual([10]);
    clock.now += 100;
    redisStore.hold();
    expect(await settlesAtOnce(store.consume('lease:expiry-ahead', bucket))).toBe(true);
    // Seven tokens are left, so the top-up asks for three, and the seven live on with them.
    expect(redisStore.wanted).toEqual([10, 3]);
    redisStore.release();
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Past the first lease's end, and not yet in the last tenth of the topped-up one's.
    clock.now += 800;
    for (let spent = 0; spent < 5; spent++) {
      expect(await settlesAtOnce(store.consume('lease:expiry-ahead', bucket))).toBe(true);
    }
    expect(redisStore.wanted).toEqual([10, 3]);
  });

  it('a top-up that fails leaves the lease serving, and the request that finds it dry sees the failure', async () => {
    // A second per call: 100 ms failed the first take, before Redis froze, on a loaded machine.
    const resilience = createResilience({ failureThreshold: 1, halfOpenAfterMs: 60_000, timeoutMs: 1000 });
    const store = withLeases({
      store: createRedisRateLimitStore({ redis: redis.client }),
      policy: resilience.policy('redis'),
      leaseMs: 100,
    });
    const bucket = { perSecond: 100, burst: 1000 };
    const key = 'lease:failed-top-up';
    await store.consume(key, bucket);
    redis.server.freeze();
    try {
      // The eighth token leaves two: the top-up starts, and times out against the frozen Redis.
      for (let spent = 1; spent < 8; spent++) expect((await store.consume(key, bucket)).allowed).toBe(true);
      await vi.waitFor(() => expect(resilience.states().redis).toBe('open'), { timeout: 10_000 });
      for (let spent = 8; spent < 10; spent++) expect((await store.consume(key, bucket)).allowed).toBe(true);
      await expect(store.consume(key, bucket)).rejects.toThrow();
    } finally {
      redis.server.thaw();
    }
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
      // Two seconds per call: 200 ms failed takes before Redis was killed, on a loaded machine. A killed
      // Redis refuses connections at once, so the fallback does not wait for it.
      const resilience = createResilience({ failureThreshold: 1, halfOpenAfterMs: 200, timeoutMs: 2000 });
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
      // Half of the burst, counted in this process, plus what the half rate refills while the takes run:
      // at 50 a second a busy machine refills a token between two takes.
      const startedAt = performance.now();
      const local = await takeAll(store, `${key}:local`, bucket.burst, bucket);
      const refilled = Math.ceil(((performance.now() - startedAt) * bucket.perSecond * 0.5) / 1000);
      const admitted = local.filter((decision) => decision.allowed).length;
      expect(local.slice(0, bucket.burst / 2).every((decision) => decision.allowed)).toBe(true);
      expect(admitted).toBeLessThanOrEqual(bucket.burst / 2 + refilled);
      expect(resilience.states().redis).toBe('open');
      await redis.server.restart();
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(all(await takeAll(store, `${key}:again`, bucket.burst, bucket))).toBe(true);
      expect(resilience.states().redis).toBe('closed');
    });
  }
});

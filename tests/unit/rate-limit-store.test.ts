import { describe, expect, it } from 'vitest';
import {
  createMemoryRateLimitStore,
  createRedisRateLimitStore,
  type RateLimitStore,
  withLocalFallback,
} from '../../server/rate-limit/index.ts';
import { createResilience } from '../../server/resilience/index.ts';
import { useTestRedis } from '../helpers/redis-server.ts';

const limit = { perSecond: 1, burst: 4 };

async function takeAll(store: RateLimitStore, key: string, count: number) {
  const decisions = [];
  for (let take = 0; take < count; take++) decisions.push(await store.consume(key, limit));
  return decisions;
}

describe('rate-limit stores', () => {
  const redis = useTestRedis();

  for (const [name, make] of [
    ['memory', () => createMemoryRateLimitStore()],
    ['redis', () => createRedisRateLimitStore({ redis: redis.client })],
  ] as const) {
    it(`${name}: allows the burst, then refuses with a retry-after hint, per key`, async () => {
      const store = make();
      const decisions = await takeAll(store, `${name}:a`, 5);
      expect(decisions.map((decision) => decision.allowed)).toEqual([true, true, true, true, false]);
      expect(decisions[4]!.retryAfterSeconds).toBeGreaterThanOrEqual(1);
      expect((await store.consume(`${name}:b`, limit)).allowed).toBe(true);
    });
  }

  it('falls back to a stricter local limit while Redis is down, and back to Redis after', async () => {
    const resilience = createResilience({ failureThreshold: 1, halfOpenAfterMs: 200, timeoutMs: 200 });
    const store = withLocalFallback({
      primary: createRedisRateLimitStore({ redis: redis.client }),
      policy: resilience.policy('redis'),
      fallback: createMemoryRateLimitStore(),
      fraction: 0.5,
    });
    expect((await takeAll(store, 'fallback:shared', 4)).every((decision) => decision.allowed)).toBe(true);
    await redis.server.kill();
    // Half of the burst of 4, counted in this process.
    const local = await takeAll(store, 'fallback:local', 3);
    expect(local.map((decision) => decision.allowed)).toEqual([true, true, false]);
    expect(resilience.states().redis).toBe('open');
    await redis.server.restart();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const after = await takeAll(store, 'fallback:again', 4);
    expect(after.every((decision) => decision.allowed)).toBe(true);
    expect(resilience.states().redis).toBe('closed');
  });
});

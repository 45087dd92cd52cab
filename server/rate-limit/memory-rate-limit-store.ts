import { LRUCache } from 'lru-cache';
import type { RateLimit, RateLimitDecision, RateLimitStore } from './rate-limit-store.ts';

interface Bucket {
  tokens: number;
  at: number;
}

export function takeToken(
  bucket: Bucket | undefined,
  limit: RateLimit,
  now: number,
): [Bucket, RateLimitDecision] {
  const elapsed = bucket ? Math.max(0, now - bucket.at) : 0;
  const tokens = Math.min(limit.burst, (bucket?.tokens ?? limit.burst) + (elapsed * limit.perSecond) / 1000);
  if (tokens >= 1)
    return [
      { tokens: tokens - 1, at: now },
      { allowed: true, retryAfterSeconds: 0 },
    ];
  const retryAfterSeconds = Math.max(1, Math.ceil((1 - tokens) / limit.perSecond));
  return [
    { tokens, at: now },
    { allowed: false, retryAfterSeconds },
  ];
}

/**
 * Token buckets in process memory: per replica, so N replicas allow N times
 * the limit. It is the fallback while Redis is down, with stricter limits
 * for that reason. Buckets of idle tenants are forgotten (LRU), which only
 * ever refills them.
 */
export function createMemoryRateLimitStore({ maxKeys = 100_000 }: { maxKeys?: number } = {}): RateLimitStore {
  const buckets = new LRUCache<string, Bucket>({ max: maxKeys });
  return {
    async consume(key, limit) {
      const [bucket, decision] = takeToken(buckets.get(key), limit, Date.now());
      buckets.set(key, bucket);
      return decision;
    },
  };
}

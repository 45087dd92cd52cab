import type { RateLimit, RateLimitStore } from './rate-limit-store.ts';

export interface FallbackRateLimitOptions {
  /** The shared limiter (Redis, under its policy: its open breaker makes the fallback immediate while Redis is down). */
  primary: RateLimitStore;
  /** Used while the primary fails. */
  fallback: RateLimitStore;
  /**
   * Share of the tier's limit the fallback allows. Default 0.25: each replica
   * counts alone while Redis is down, so together they must stay near the limit.
   */
  fraction?: number;
}

/**
 * The shared limit when Redis answers; a stricter per-process limit when it does not. Never fails open or closed.
 * rate-limiter-flexible's `insuranceLimiter` does the same for its own limiters only; this is the same idea over our port.
 */
export function withLocalFallback(options: FallbackRateLimitOptions): RateLimitStore {
  const { primary, fallback, fraction = 0.25 } = options;
  const stricter = (limit: RateLimit): RateLimit => ({
    perSecond: limit.perSecond * fraction,
    burst: Math.max(1, Math.floor(limit.burst * fraction)),
  });
  return {
    consume: (key, limit) => primary.consume(key, limit).catch(() => fallback.consume(key, stricter(limit))),
  };
}

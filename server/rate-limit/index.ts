export { withLocalFallback } from './fallback-rate-limit-store.ts';
export { createMemoryRateLimitStore } from './memory-rate-limit-store.ts';
export type { RateLimit, RateLimitDecision, RateLimitStore } from './rate-limit-store.ts';
export { createRedisRateLimitStore } from './redis-rate-limit-store.ts';

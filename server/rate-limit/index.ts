export { withLocalFallback } from './fallback-rate-limit-store.ts';
export { withLeases } from './leased-rate-limit-store.ts';
export { createMemoryRateLimitStore } from './memory-rate-limit-store.ts';
export type {
  LeasingRateLimitStore,
  RateLimit,
  RateLimitDecision,
  RateLimitStore,
} from './rate-limit-store.ts';
export { createRedisRateLimitStore } from './redis-rate-limit-store.ts';

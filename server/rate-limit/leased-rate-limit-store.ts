import { LRUCache } from 'lru-cache';
import type { DependencyPolicy } from '../resilience/policy.ts';
import type { LeasingRateLimitStore, RateLimit, RateLimitStore } from './rate-limit-store.ts';

export interface LeaseOptions {
  /** The shared buckets (Redis). */
  store: LeasingRateLimitStore;
  /** Runs every call to the shared store; its open breaker fails them at once while Redis is down. */
  policy: DependencyPolicy;
  /**
   * How much of a tier's refill one lease may hold, in milliseconds of it,
   * and never more than a tenth of the burst. Default 10 (RATE_LIMIT_LEASE_MS).
   * A tier whose lease would be under two tokens, and 0, take every token
   * from the shared store.
   */
  leaseMs?: number;
  /** Leased tokens not spent within this are dropped. Default 1000 ms. */
  lifetimeMs?: number;
  /** Tenants whose leases are held at once; the least recently used go. Default 100,000. */
  maxKeys?: number;
}

interface Lease {
  tokens: number;
  expiresAt: number;
  /** The take from the shared store in flight, if any; resolves to its retry hint, 0 when it granted tokens. */
  refill?: Promise<number>;
}

const allowed = { allowed: true, retryAfterSeconds: 0 };

/**
 * Takes tokens from the shared bucket a few at a time and spends them in
 * this process, so a busy tenant costs one Redis round trip per lease
 * instead of one per request. The shared limit stays exact as an upper
 * bound: every token spent here was taken from the shared bucket first.
 * What leasing gives up is the other side: tokens leased to one replica and
 * not spent within `lifetimeMs` are lost to the others, so near its limit a
 * tenant may be refused up to one lease per replica early.
 *
 * Requests that find the lease empty wait together on one refill.
 */
export function withLeases({
  store,
  policy,
  leaseMs = 10,
  lifetimeMs = 1000,
  maxKeys = 100_000,
}: LeaseOptions): RateLimitStore {
  const leases = new LRUCache<string, Lease>({ max: maxKeys });
  const shared = <T>(take: () => Promise<T>) =>
    policy.run(take, { idempotent: false, operation: 'rateLimit' });
  const leaseSize = (limit: RateLimit) =>
    Math.min(Math.floor((limit.perSecond * leaseMs) / 1000), Math.floor(limit.burst / 10));

  async function refill(key: string, limit: RateLimit, lease: Lease, size: number): Promise<number> {
    try {
      const { granted, retryAfterSeconds } = await shared(() => store.takeUpTo(key, limit, size));
      // Whatever was left of the previous lease had expired: it is replaced, not added to.
      lease.tokens = granted;
      lease.expiresAt = Date.now() + lifetimeMs;
      return retryAfterSeconds;
    } finally {
      lease.refill = undefined;
    }
  }

  return {
    async consume(key, limit) {
      const size = leaseSize(limit);
      if (size < 2) return shared(() => store.consume(key, limit));
      let lease = leases.get(key);
      if (!lease) {
        lease = { tokens: 0, expiresAt: 0 };
        leases.set(key, lease);
      }
      // Each turn either spends a token or waits on a take from the shared bucket, which grants or refuses.
      for (;;) {
        if (lease.tokens >= 1 && Date.now() < lease.expiresAt) {
          lease.tokens -= 1;
          return allowed;
        }
        lease.refill ??= refill(key, limit, lease, size);
        const retryAfterSeconds = await lease.refill;
        if (retryAfterSeconds > 0) return { allowed: false, retryAfterSeconds };
      }
    },
  };
}

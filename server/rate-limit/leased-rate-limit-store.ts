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
  /** Milliseconds since the epoch; injected so tests can move time. Default `Date.now`. */
  now?: () => number;
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
 * not spent within `lifetimeMs` of its last take are lost to the others, so
 * near its limit a tenant may be refused up to one lease per replica early.
 *
 * A lease is topped up, in the background, once a quarter of it is left or
 * it is in the last tenth of its lifetime: a request that waited on Redis for every lease
 * was 1 in 5 of a premium tenant's requests, and 20 a second in the bench
 * when leases expired. The top-up asks only for what the lease lacks, so a
 * replica never holds more than one lease. Requests that find the lease
 * empty or expired wait together on one take.
 */
export function withLeases({
  store,
  policy,
  leaseMs = 10,
  lifetimeMs = 1000,
  maxKeys = 100_000,
  now = Date.now,
}: LeaseOptions): RateLimitStore {
  const leases = new LRUCache<string, Lease>({ max: maxKeys });
  const shared = <T>(take: () => Promise<T>) =>
    policy.run(take, { idempotent: false, operation: 'rateLimit' });
  const leaseSize = (limit: RateLimit) =>
    Math.min(Math.floor((limit.perSecond * leaseMs) / 1000), Math.floor(limit.burst / 10));
  const topUpWithinMs = lifetimeMs / 10;
  const live = (lease: Lease, at = now()) => (at < lease.expiresAt ? lease.tokens : 0);

  async function topUp(key: string, limit: RateLimit, lease: Lease, size: number): Promise<number> {
    try {
      const wanted = size - live(lease);
      const { granted, retryAfterSeconds } = await shared(() => store.takeUpTo(key, limit, wanted));
      if (granted > 0) {
        // Tokens left from before are kept, and live on with the new ones: there are never more than `size`.
        lease.tokens = live(lease) + granted;
        lease.expiresAt = now() + lifetimeMs;
      }
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
        const at = now();
        if (live(lease, at) >= 1) {
          lease.tokens -= 1;
          const runningLow = lease.tokens <= size / 4 || at >= lease.expiresAt - topUpWithinMs;
          if (runningLow && !lease.refill) {
            lease.refill = topUp(key, limit, lease, size);
            // Nobody awaits a top-up unless the lease runs dry first; that request then sees its failure.
            lease.refill.catch(() => {});
          }
          return allowed;
        }
        lease.refill ??= topUp(key, limit, lease, size);
        const retryAfterSeconds = await lease.refill;
        if (retryAfterSeconds > 0) return { allowed: false, retryAfterSeconds };
      }
    },
  };
}

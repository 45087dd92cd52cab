/** A token bucket: `burst` requests at once, refilled at `perSecond`. */
export interface RateLimit {
  perSecond: number;
  burst: number;
}

export interface RateLimitDecision {
  allowed: boolean;
  /** When refused, how long until one request would be allowed; 0 when allowed. */
  retryAfterSeconds: number;
}

/** The rate-limit port: one atomic take from the bucket under `key`. */
export interface RateLimitStore {
  consume(key: string, limit: RateLimit): Promise<RateLimitDecision>;
}

/** A store that can also hand out several tokens in one take, for a replica to spend locally. */
export interface LeasingRateLimitStore extends RateLimitStore {
  /** Takes `wanted` tokens, or as many whole tokens as the bucket holds; none, with a retry hint, when it is empty. */
  takeUpTo(
    key: string,
    limit: RateLimit,
    wanted: number,
  ): Promise<{ granted: number; retryAfterSeconds: number }>;
}

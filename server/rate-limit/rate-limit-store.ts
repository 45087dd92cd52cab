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

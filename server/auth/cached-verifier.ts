import { LRUCache } from 'lru-cache';
import type { JwtConfig } from '../config.ts';
import type { Logger } from '../logger.ts';
import { createJwtVerifier, type JwtVerifier, type Principal } from './jwt-verifier.ts';

export interface CachedVerifierOptions {
  /**
   * How long a verified principal is reused, in milliseconds. Default 60,000
   * (JWT_CACHE_TTL_SECONDS). It bounds how long a token keeps working after
   * its signing key leaves the JWKS; 0 turns the cache off.
   */
  ttlMs?: number;
  /** Principals kept, least recently used first out. Default 10,000 (JWT_CACHE_MAX_ENTRIES). */
  maxEntries?: number;
  /** The clock, for tests. Default `Date.now`. */
  now?: () => number;
}

/**
 * Remembers verified tokens, so a client sending the same token on every
 * request pays for one signature check (ECDSA verification shows in every
 * service's profile) per TTL instead of per request.
 *
 * Only successes are cached, keyed by the token itself (its bytes are what
 * was signed, so the same token means the same claims; the principal holds
 * the token anyway, so a digest would keep nothing out of memory). An entry
 * never outlives the token's `exp`. The trade-off is revocation by
 * key removal: a token already verified keeps working for up to the TTL
 * after its key leaves the JWKS. The remote JWKS is itself refreshed only
 * every JWT_JWKS_MAX_AGE_SECONDS (600 by default), so the default TTL adds
 * at most a minute to a window that is already ten.
 */
export function cachedVerifier(verifier: JwtVerifier, options: CachedVerifierOptions = {}): JwtVerifier {
  const { ttlMs = 60_000, maxEntries = 10_000, now = Date.now } = options;
  if (ttlMs <= 0) return verifier;
  // ttlResolution 0: read the clock on every lookup, so an entry is never served a moment past its TTL.
  const principals = new LRUCache<string, Principal>({
    max: maxEntries,
    ttl: ttlMs,
    ttlResolution: 0,
    perf: { now },
  });
  return {
    keyStatus: verifier.keyStatus?.bind(verifier),
    async verify(token) {
      const cached = principals.get(token);
      if (cached && cached.expiresAt > now()) return cached;
      const principal = await verifier.verify(token);
      const remaining = principal.expiresAt - now();
      if (remaining > 0) principals.set(token, principal, { ttl: Math.min(ttlMs, remaining) });
      return principal;
    },
  };
}

/** The verifier every service runs: jose against the configured JWKS, behind the principal cache. */
export async function createServiceVerifier(config: JwtConfig, logger: Logger): Promise<JwtVerifier> {
  return cachedVerifier(await createJwtVerifier(config, { logger }), config.cache);
}

import {
  createLocalJWKSet,
  errors,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type JWSHeaderParameters,
  type JWTVerifyGetKey,
} from 'jose';
import type { Logger } from '../logger.ts';

export interface RemoteJwksOptions {
  /** The identity provider's JWKS, from JWT_JWKS_URL only: never from a token's `jku`, `x5u` or `jwk`. */
  url: URL;
  /**
   * Least time between two fetches, whatever the tokens say. A flood of tokens
   * with made-up `kid`s costs the identity provider at most one fetch per
   * cooldown. Default 30 s (JWT_JWKS_COOLDOWN_SECONDS).
   */
  cooldownMs?: number;
  /** Keys older than this are refreshed in the background of the next verification. Default 10 min. */
  maxAgeMs?: number;
  /**
   * How long past `maxAge` the last good keys keep verifying tokens while
   * refreshes fail, so a short identity provider outage does not log every
   * user out. After that, verification fails closed. Default 1 h.
   */
  staleIfErrorMs?: number;
  /** One fetch's deadline. Default 5 s. */
  timeoutMs?: number;
  logger?: Logger;
}

/** A key getter for jose's `jwtVerify`, with its state for health checks and tests. */
export interface RemoteJwks extends JWTVerifyGetKey {
  /** Milliseconds since the keys were last fetched successfully, or undefined before the first. */
  ageMs(): number | undefined;
}

/**
 * A remote JWKS with a cache that jose's `createRemoteJWKSet` lacks: when a
 * refresh fails, the last good keys keep working for a bounded time
 * (stale-if-error). Unknown `kid`s trigger a refetch, so a rotated-in key
 * works at once, limited by the cooldown; a refetch replaces the whole set,
 * so a key the provider removed stops verifying as soon as the set is
 * refreshed (on an unknown `kid`, or when it is `maxAge` old).
 */
export function createRemoteJwks({
  url,
  cooldownMs = 30_000,
  maxAgeMs = 600_000,
  staleIfErrorMs = 3_600_000,
  timeoutMs = 5000,
  logger,
}: RemoteJwksOptions): RemoteJwks {
  let keys: ReturnType<typeof createLocalJWKSet> | undefined;
  let fetchedAt: number | undefined;
  let lastAttemptAt = Number.NEGATIVE_INFINITY;
  let inFlight: Promise<void> | undefined;

  async function fetchKeys(): Promise<void> {
    lastAttemptAt = Date.now();
    const response = await fetch(url, {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
    if (!response.ok) throw new Error(`JWKS fetch answered ${response.status}`);
    const body = (await response.json()) as JSONWebKeySet;
    if (!Array.isArray(body?.keys)) throw new Error('JWKS response has no keys array');
    keys = createLocalJWKSet(body);
    fetchedAt = Date.now();
  }

  /** One fetch at a time, shared by every verification waiting for it; none inside the cooldown. */
  function refresh(): Promise<void> {
    if (inFlight) return inFlight;
    if (Date.now() - lastAttemptAt < cooldownMs) return Promise.resolve();
    inFlight = fetchKeys()
      .catch((error: unknown) => {
        logger?.warn({ err: error, url: url.href }, 'JWKS refresh failed');
        const stale = fetchedAt !== undefined && Date.now() - fetchedAt > maxAgeMs + staleIfErrorMs;
        if (stale) {
          logger?.error({ url: url.href }, 'JWKS keys expired past stale-if-error; failing closed');
          keys = undefined;
          fetchedAt = undefined;
        }
      })
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  }

  const getKey = async (protectedHeader: JWSHeaderParameters, token: FlattenedJWSInput) => {
    if (!keys || (fetchedAt !== undefined && Date.now() - fetchedAt > maxAgeMs)) await refresh();
    if (!keys) throw new errors.JWKSNoMatchingKey();
    try {
      return await keys(protectedHeader, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
      // An unknown kid may be a key the provider just rotated in.
      await refresh();
      return keys ? keys(protectedHeader, token) : Promise.reject(error);
    }
  };
  return Object.assign(getKey, {
    ageMs: () => (fetchedAt === undefined ? undefined : Date.now() - fetchedAt),
  }) as RemoteJwks;
}

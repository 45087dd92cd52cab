import {
  createLocalJWKSet,
  errors,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type JWSHeaderParameters,
  type JWTVerifyGetKey,
} from 'jose';
import type { Logger } from '../logger.ts';
import { IdentityProviderUnavailableError } from './identity-provider-unavailable-error.ts';

export interface RemoteJwksOptions {
  /**
   * The identity provider's JWKS, from configuration only: never from a
   * token's `jku`, `x5u` or `jwk`. Without it, `discoverFrom` names it.
   */
  url?: URL;
  /**
   * An issuer whose OpenID Connect discovery document
   * (`<issuer>/.well-known/openid-configuration`) names the JWKS in
   * `jwks_uri`. Read on the first fetch, not at startup, so a provider that
   * is down when Quarry starts is reported, not fatal.
   */
  discoverFrom?: string;
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

/** Whether a key set can verify tokens now: `stale` keys are past their max age, within stale-if-error. */
export type KeyState = 'fresh' | 'stale' | 'none';

/** A key getter for jose's `jwtVerify`, with its state for health checks and tests. */
export interface RemoteJwks extends JWTVerifyGetKey {
  /** Milliseconds since the keys were last fetched successfully, or undefined before the first. */
  ageMs(): number | undefined;
  /**
   * The key state, refreshing first when there are no keys or they are due
   * (at most once per cooldown), so a readiness probe also warms a service
   * that has had no request yet.
   */
  state(): Promise<KeyState>;
}

const discoveryPath = '/.well-known/openid-configuration';

/** The `jwks_uri` an issuer publishes, checked to belong to that issuer (OpenID Connect Discovery 4.3). */
async function discoverJwksUrl(issuer: string, timeoutMs: number): Promise<URL> {
  const response = await fetch(`${issuer.replace(/\/$/, '')}${discoveryPath}`, {
    headers: { accept: 'application/json' },
    signal: AbortSignal.timeout(timeoutMs),
    redirect: 'error',
  });
  if (!response.ok) throw new Error(`OpenID configuration fetch answered ${response.status}`);
  const document = (await response.json()) as { issuer?: unknown; jwks_uri?: unknown };
  if (document?.issuer !== issuer) throw new Error('OpenID configuration names another issuer');
  if (typeof document.jwks_uri !== 'string' || !/^https?:\/\//.test(document.jwks_uri)) {
    throw new Error('OpenID configuration has no http(s) jwks_uri');
  }
  return new URL(document.jwks_uri);
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
  url: configuredUrl,
  discoverFrom,
  cooldownMs = 30_000,
  maxAgeMs = 600_000,
  staleIfErrorMs = 3_600_000,
  timeoutMs = 5000,
  logger,
}: RemoteJwksOptions): RemoteJwks {
  if (!configuredUrl && !discoverFrom) throw new Error('A remote JWKS needs a url or an issuer to discover');
  let url = configuredUrl;
  let keys: ReturnType<typeof createLocalJWKSet> | undefined;
  let fetchedAt: number | undefined;
  let lastAttemptAt = Number.NEGATIVE_INFINITY;
  /** Whether the latest fetch failed: an unknown `kid` then may be a key we could not fetch. */
  let lastFetchFailed = false;
  let inFlight: Promise<void> | undefined;
  const source = () => url?.href ?? `${discoverFrom}${discoveryPath}`;

  async function fetchKeys(): Promise<void> {
    lastAttemptAt = Date.now();
    url ??= await discoverJwksUrl(discoverFrom as string, timeoutMs);
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
    lastFetchFailed = false;
  }

  /** One fetch at a time, shared by every verification waiting for it; none inside the cooldown. */
  function refresh(): Promise<void> {
    if (inFlight) return inFlight;
    if (Date.now() - lastAttemptAt < cooldownMs) return Promise.resolve();
    inFlight = fetchKeys()
      .catch((error: unknown) => {
        lastFetchFailed = true;
        logger?.warn({ err: error, url: source() }, 'JWKS refresh failed');
        const stale = fetchedAt !== undefined && Date.now() - fetchedAt > maxAgeMs + staleIfErrorMs;
        if (stale) {
          logger?.error({ url: source() }, 'JWKS keys expired past stale-if-error; failing closed');
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
    if (!keys) throw new IdentityProviderUnavailableError(`No keys from ${source()}`);
    try {
      return await keys(protectedHeader, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
      // An unknown kid may be a key the provider just rotated in.
      await refresh();
      if (!keys) throw new IdentityProviderUnavailableError(`No keys from ${source()}`);
      try {
        return await keys(protectedHeader, token);
      } catch (retryError) {
        // Unknown while the provider is unreachable: perhaps rotated in, perhaps forged; we cannot tell.
        if (retryError instanceof errors.JWKSNoMatchingKey && lastFetchFailed) {
          throw new IdentityProviderUnavailableError(`Key not in the cached keys of ${source()}`);
        }
        throw retryError;
      }
    }
  };
  const ageMs = () => (fetchedAt === undefined ? undefined : Date.now() - fetchedAt);
  return Object.assign(getKey, {
    ageMs,
    async state(): Promise<KeyState> {
      if (!keys || (ageMs() ?? 0) > maxAgeMs) await refresh();
      const age = ageMs();
      if (!keys || age === undefined) return 'none';
      return age > maxAgeMs ? 'stale' : 'fresh';
    },
  }) as RemoteJwks;
}

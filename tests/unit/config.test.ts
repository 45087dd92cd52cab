import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config.ts';

const minimal = { JWT_JWKS_FILE: 'jwks.json', JWT_ISSUER: 'issuer', JWT_AUDIENCE: 'audience' };

describe('loadConfig', () => {
  it('applies documented defaults', () => {
    const config = loadConfig(minimal);
    expect(config.gateway.port).toBe(4000);
    expect(config.documents.port).toBe(4001);
    expect(config.search.port).toBe(4002);
    expect(config.jwt.algorithms).toEqual(['RS256', 'ES256']);
    expect(config.production).toBe(false);
    expect(config.indexer.port).toBe(4003);
    expect(config.cache.redisUrl).toBeUndefined();
    expect(config.rateLimit.tiers).toEqual({
      standard: { perSecond: 50, burst: 100 },
      premium: { perSecond: 500, burst: 1000 },
    });
  });

  it('reads per-dependency options as a default with overrides by name', () => {
    const config = loadConfig({ ...minimal, RESILIENCE_TIMEOUT_MS: '1500, redis=100, subgraph:search=3000' });
    expect(config.resilience.timeoutMs('documents-store')).toBe(1500);
    expect(config.resilience.timeoutMs('redis')).toBe(100);
    expect(config.resilience.timeoutMs('subgraph:search')).toBe(3000);
    expect(loadConfig(minimal).resilience.timeoutMs('redis')).toBe(250);
    expect(loadConfig(minimal).resilience.readAttempts('redis')).toBe(1);
  });

  it.each([
    [{ ...minimal, PORT: 'eighty' }, 'PORT'],
    [{ ...minimal, JWT_ISSUER: undefined }, 'JWT_ISSUER'],
    [{ ...minimal, JWT_ALGORITHMS: 'HS256' }, 'JWT_ALGORITHMS'],
    [{ ...minimal, JWT_JWKS_FILE: undefined }, 'JWT_JWKS_URL'],
    [{ ...minimal, SEARCH_URL: 'not a url' }, 'SEARCH_URL'],
    [{ ...minimal, NODE_ENV: 'production' }, 'JWT_JWKS_URL'],
    [{ ...minimal, NODE_ENV: 'production', JWT_JWKS_URL: 'https://idp.example/jwks' }, 'CURSOR_SECRET'],
    [{ ...minimal, REDIS_URL: 'localhost' }, 'REDIS_URL'],
    [{ ...minimal, RESILIENCE_TIMEOUT_MS: 'redis=100' }, 'RESILIENCE_TIMEOUT_MS'],
    [{ ...minimal, BREAKER_FAILURE_THRESHOLD: '5,redis=often' }, 'BREAKER_FAILURE_THRESHOLD'],
    [{ ...minimal, RATE_LIMIT_TIERS: 'premium=10/20' }, 'RATE_LIMIT_TIERS'],
    [{ ...minimal, RATE_LIMIT_TIERS: 'standard=10' }, 'RATE_LIMIT_TIERS'],
    [{ ...minimal, RATE_LIMIT_FALLBACK_FRACTION: '2' }, 'RATE_LIMIT_FALLBACK_FRACTION'],
  ])('names the bad variable %#', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(`\\b${variable}:`));
  });
});

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
    expect(config.gateway.maxBodyBytes).toBe(1024 * 1024);
    expect(config.gateway.executionTimeoutMs).toBe(15_000);
    expect(config.gateway.limits).toEqual({
      maxDepth: 8,
      maxAliases: 15,
      maxTokens: 1000,
      maxDirectives: 20,
      maxCost: 10_000,
      maxFirst: 100,
    });
    expect(config.gateway.persistedOperations.partnerClients).toEqual([]);
    expect(config.gateway.persistedOperations.manifestPath).toMatch(
      /schema\/persisted-query-manifest\.json$/,
    );
    expect(config.tls).toBeUndefined();
    expect(config.jwt.jwksStaleIfErrorSeconds).toBe(3600);
  });

  it('reads the partner client list', () => {
    const config = loadConfig({ ...minimal, PARTNER_CLIENTS: 'svc-acme, acme-app' });
    expect(config.gateway.persistedOperations.partnerClients).toEqual(['svc-acme', 'acme-app']);
  });

  it.each([
    [{ ...minimal, PORT: 'eighty' }, 'PORT'],
    [{ ...minimal, JWT_ISSUER: undefined }, 'JWT_ISSUER'],
    [{ ...minimal, JWT_ALGORITHMS: 'HS256' }, 'JWT_ALGORITHMS'],
    [{ ...minimal, JWT_JWKS_FILE: undefined }, 'JWT_JWKS_URL'],
    [{ ...minimal, SEARCH_URL: 'not a url' }, 'SEARCH_URL'],
    [{ ...minimal, NODE_ENV: 'production' }, 'JWT_JWKS_URL'],
    [{ ...minimal, NODE_ENV: 'production', JWT_JWKS_URL: 'https://idp.example/jwks' }, 'CURSOR_SECRET'],
    [{ ...minimal, TLS_CERT: 'cert.pem' }, 'TLS_KEY'],
    [{ ...minimal, SUBGRAPH_TLS_KEY: 'client.key' }, 'SUBGRAPH_TLS_CERT'],
    [{ ...minimal, SUBGRAPH_CLIENT_CA: 'ca.pem' }, 'SUBGRAPH_CLIENT_CA'],
    [{ ...minimal, LIMIT_MAX_DEPTH: '0' }, 'LIMIT_MAX_DEPTH'],
    [{ ...minimal, MAX_REQUEST_BODY_BYTES: 'lots' }, 'MAX_REQUEST_BODY_BYTES'],
    [{ ...minimal, EXECUTION_TIMEOUT_MS: '-1' }, 'EXECUTION_TIMEOUT_MS'],
  ])('names the bad variable %#', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(`\\b${variable}:`));
  });
});

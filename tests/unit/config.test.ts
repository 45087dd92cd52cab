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
    expect(config.metrics).toEqual({ tenantAllowlist: [], maxTenantLabels: 50, maxOperationLabels: 100 });
    expect(config.tracing.enabled).toBe(false);
  });

  it.each([
    [{}, false],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318' }, true],
    [{ OTEL_TRACES_EXPORTER: 'console' }, true],
    [{ OTEL_TRACES_EXPORTER: 'none' }, false],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318', OTEL_SDK_DISABLED: 'true' }, false],
  ])('turns tracing on only when an exporter is named %#', (env, enabled) => {
    expect(loadConfig({ ...minimal, ...env }).tracing.enabled).toBe(enabled);
  });

  it('reads the tenant label allowlist', () => {
    expect(loadConfig({ ...minimal, METRICS_TENANTS: 'acme, globex' }).metrics.tenantAllowlist).toEqual([
      'acme',
      'globex',
    ]);
  });

  it.each([
    [{ ...minimal, PORT: 'eighty' }, 'PORT'],
    [{ ...minimal, JWT_ISSUER: undefined }, 'JWT_ISSUER'],
    [{ ...minimal, JWT_ALGORITHMS: 'HS256' }, 'JWT_ALGORITHMS'],
    [{ ...minimal, JWT_JWKS_FILE: undefined }, 'JWT_JWKS_URL'],
    [{ ...minimal, SEARCH_URL: 'not a url' }, 'SEARCH_URL'],
    [{ ...minimal, METRICS_MAX_TENANTS: '-1' }, 'METRICS_MAX_TENANTS'],
    [{ ...minimal, OTEL_EXPORTER_OTLP_ENDPOINT: 'jaeger' }, 'OTEL_EXPORTER_OTLP_ENDPOINT'],
    [{ ...minimal, NODE_ENV: 'production' }, 'JWT_JWKS_URL'],
    [{ ...minimal, NODE_ENV: 'production', JWT_JWKS_URL: 'https://idp.example/jwks' }, 'CURSOR_SECRET'],
  ])('names the bad variable %#', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(`\\b${variable}:`));
  });
});

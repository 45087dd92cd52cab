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

describe('production backend configuration', () => {
  it('stays embedded unless a backend URL is set', () => {
    const config = loadConfig(minimal);
    expect(config.mongo).toBeUndefined();
    expect(config.elasticsearch).toBeUndefined();
  });

  it('selects MongoDB and Elasticsearch by URL, with documented defaults', () => {
    const config = loadConfig({
      ...minimal,
      MONGO_URL: 'mongodb://mongo:27017/?replicaSet=rs0',
      ELASTICSEARCH_URL: 'http://elasticsearch:9200',
    });
    expect(config.mongo).toEqual({
      url: 'mongodb://mongo:27017/?replicaSet=rs0',
      database: 'quarry',
      maxPoolSize: 20,
      serverSelectionTimeoutMs: 3000,
      timeoutMs: 5000,
    });
    expect(config.elasticsearch).toMatchObject({
      url: 'http://elasticsearch:9200',
      indexPrefix: 'quarry-documents',
      requestTimeoutMs: 5000,
      maxRetries: 2,
      shards: 1,
      replicas: 1,
      rolloverMaxPrimaryShardSize: '50gb',
      rolloverMaxAge: '30d',
      refresh: false,
    });
  });

  it.each([
    [{ ...minimal, MONGO_URL: 'http://mongo:27017' }, 'MONGO_URL'],
    [{ ...minimal, MONGO_MAX_POOL_SIZE: '0' }, 'MONGO_MAX_POOL_SIZE'],
    [{ ...minimal, MONGO_DATABASE: 'bad name' }, 'MONGO_DATABASE'],
    [{ ...minimal, ELASTICSEARCH_URL: 'elasticsearch:9200' }, 'ELASTICSEARCH_URL'],
    [{ ...minimal, ELASTICSEARCH_INDEX_PREFIX: 'Upper' }, 'ELASTICSEARCH_INDEX_PREFIX'],
    [{ ...minimal, ELASTICSEARCH_MAX_RETRIES: '99' }, 'ELASTICSEARCH_MAX_RETRIES'],
    [{ ...minimal, ELASTICSEARCH_ROLLOVER_MAX_AGE: 'a month' }, 'ELASTICSEARCH_ROLLOVER_MAX_AGE'],
    [{ ...minimal, ELASTICSEARCH_REFRESH: 'true' }, 'ELASTICSEARCH_REFRESH'],
  ])('names the bad backend variable %#', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(new RegExp(`\\b${variable}:`));
  });
});

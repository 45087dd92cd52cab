import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { configLoader } from '../../server/config/compose.ts';
import { defineConcern } from '../../server/config/concern.ts';
import { gatewayConcern } from '../../server/config/gateway.ts';
import {
  ConfigError,
  loadConfig,
  loadDocumentsConfig,
  loadGatewayConfig,
  loadIndexerConfig,
  loadSearchConfig,
} from '../../server/config.ts';

const minimal = { JWT_JWKS_FILE: 'jwks.json', JWT_ISSUER: 'issuer', JWT_AUDIENCE: 'audience' };

describe('loadConfig', () => {
  it('applies documented defaults', () => {
    const config = loadConfig(minimal);
    expect(config.gateway.port).toBe(4000);
    expect(config.documents.port).toBe(4001);
    expect(config.documents.idempotencyRetentionMs).toBe(24 * 3_600_000);
    expect(config.search.port).toBe(4002);
    expect(config.jwt.algorithms).toEqual(['RS256', 'ES256']);
    expect(config.production).toBe(false);
    expect(config.indexer.port).toBe(4003);
    expect(config.metrics).toEqual({ tenantAllowlist: [], maxTenantLabels: 50, maxOperationLabels: 20 });
    expect(config.tracing.enabled).toBe(false);
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
    expect(config.cache.redisUrl).toBeUndefined();
    expect(config.rateLimit.tiers).toEqual({
      standard: { perSecond: 50, burst: 100 },
      premium: { perSecond: 500, burst: 1000 },
    });
  });

  it('reads the outbox partitions and the indexer lease, naming the variable when one is out of range', () => {
    expect(loadConfig(minimal).indexer).toMatchObject({ partitions: 16, leaseMs: 15_000 });
    expect(
      loadConfig({ ...minimal, OUTBOX_PARTITIONS: '4', INDEXER_LEASE_MS: '3000' }).indexer,
    ).toMatchObject({ partitions: 4, leaseMs: 3000 });
    expect(() => loadConfig({ ...minimal, OUTBOX_PARTITIONS: '0' })).toThrow(/OUTBOX_PARTITIONS/);
    expect(() => loadConfig({ ...minimal, INDEXER_LEASE_MS: '100' })).toThrow(/INDEXER_LEASE_MS/);
  });

  it('reads the verified-token cache and the response cache, 0 turning either off', () => {
    const defaults = loadConfig(minimal);
    expect(defaults.jwt.cache).toEqual({ ttlMs: 60_000, maxEntries: 10_000 });
    expect(defaults.cache.responseTtlSeconds).toBe(60);
    const off = loadConfig({ ...minimal, JWT_CACHE_TTL_SECONDS: '0', RESPONSE_CACHE_TTL_SECONDS: '0' });
    expect(off.jwt.cache.ttlMs).toBe(0);
    expect(off.cache.responseTtlSeconds).toBe(0);
    expect(() => loadConfig({ ...minimal, RESPONSE_CACHE_TTL_SECONDS: '-1' })).toThrow(
      /RESPONSE_CACHE_TTL_SECONDS/,
    );
    expect(() => loadConfig({ ...minimal, JWT_CACHE_MAX_ENTRIES: '0' })).toThrow(/JWT_CACHE_MAX_ENTRIES/);
  });

  it('caches entities at the gateway only when given a TTL, up to 64 KiB each', () => {
    const defaults = loadConfig(minimal);
    expect(defaults.cache.entityTtlSeconds).toBe(0);
    expect(defaults.cache.entityMaxEntryBytes).toBe(64 * 1024);
    expect(loadConfig({ ...minimal, ENTITY_CACHE_TTL_SECONDS: '60' }).cache.entityTtlSeconds).toBe(60);
    expect(() => loadConfig({ ...minimal, ENTITY_CACHE_TTL_SECONDS: '301' })).toThrow(
      /ENTITY_CACHE_TTL_SECONDS/,
    );
    expect(() => loadConfig({ ...minimal, ENTITY_CACHE_MAX_ENTRY_BYTES: '0' })).toThrow(
      /ENTITY_CACHE_MAX_ENTRY_BYTES/,
    );
  });

  it('refreshes responses in the last 2 s of their TTL by default, and refuses a window as long as the TTL', () => {
    expect(loadConfig(minimal).cache.responseRefreshSeconds).toBe(2);
    expect(loadConfig({ ...minimal, RESPONSE_CACHE_REFRESH_SECONDS: '0' }).cache.responseRefreshSeconds).toBe(
      0,
    );
    expect(() => loadConfig({ ...minimal, RESPONSE_CACHE_REFRESH_SECONDS: '60' })).toThrow(
      /RESPONSE_CACHE_REFRESH_SECONDS.*less than RESPONSE_CACHE_TTL_SECONDS/,
    );
    // With the cache off there is nothing to refresh, whatever the window.
    expect(() => loadConfig({ ...minimal, RESPONSE_CACHE_TTL_SECONDS: '0' })).not.toThrow();
  });

  it('keeps generations and hot responses in process and leases rate-limit tokens by default, each of which can be turned off', () => {
    const defaults = loadConfig(minimal);
    expect(defaults.cache.redisClientTracking).toBe(true);
    expect(defaults.cache.responseNearMaxBytes).toBe(64 * 1024 * 1024);
    expect(defaults.rateLimit.leaseMs).toBe(10);
    const off = loadConfig({
      ...minimal,
      REDIS_CLIENT_TRACKING: 'false',
      RESPONSE_CACHE_NEAR_MAX_MB: '0',
      RATE_LIMIT_LEASE_MS: '0',
    });
    expect(off.cache.redisClientTracking).toBe(false);
    expect(off.cache.responseNearMaxBytes).toBe(0);
    expect(off.rateLimit.leaseMs).toBe(0);
    expect(() => loadConfig({ ...minimal, REDIS_CLIENT_TRACKING: 'maybe' })).toThrow(/REDIS_CLIENT_TRACKING/);
    expect(() => loadConfig({ ...minimal, RATE_LIMIT_LEASE_MS: '-1' })).toThrow(/RATE_LIMIT_LEASE_MS/);
  });

  it('bounds response bytes, buffered bodies and HTTP time by default, and refuses inconsistent bounds', () => {
    const defaults = loadConfig(minimal);
    expect(defaults.gateway.maxResponseBytes).toBe(4 * 1024 * 1024);
    expect(defaults.gateway.maxBufferedBodyBytes).toBe(64 * 1024 * 1024);
    expect(defaults.gateway.httpTimeouts).toEqual({
      headersMs: 10_000,
      requestMs: 30_000,
      keepAliveMs: 65_000,
    });
    expect(defaults.cache.responseMaxEntryBytes).toBe(1024 * 1024);
    expect(defaults.cache.memoryMaxBytes).toBe(64 * 1024 * 1024);
    expect(() => loadConfig({ ...minimal, RESPONSE_CACHE_MAX_ENTRY_BYTES: String(8 * 1024 * 1024) })).toThrow(
      /RESPONSE_CACHE_MAX_ENTRY_BYTES.*MAX_RESPONSE_BYTES/,
    );
    expect(() =>
      loadConfig({ ...minimal, HTTP_HEADERS_TIMEOUT_MS: '40000', HTTP_REQUEST_TIMEOUT_MS: '30000' }),
    ).toThrow(/HTTP_HEADERS_TIMEOUT_MS/);
  });

  it('keeps tombstones 7 days by default, reads a retention with a unit, and refuses one without', () => {
    expect(loadConfig(minimal).tombstones).toEqual({
      retentionMs: 7 * 86_400_000,
      pruneIntervalMs: 3_600_000,
      pruneBatchSize: 1000,
    });
    expect(loadConfig(minimal).indexer.maxAttempts).toBe(5);
    expect(loadConfig({ ...minimal, TOMBSTONE_RETENTION: '36h' }).tombstones.retentionMs).toBe(
      36 * 3_600_000,
    );
    for (const invalid of ['7', 'a week', '-1d'])
      expect(() => loadConfig({ ...minimal, TOMBSTONE_RETENTION: invalid }), invalid).toThrow(
        /TOMBSTONE_RETENTION: a time unit such as 30d/,
      );
    expect(() => loadConfig({ ...minimal, TOMBSTONE_RETENTION: '0d' })).toThrow(
      /TOMBSTONE_RETENTION: must be longer than 0/,
    );
  });

  it('reads per-dependency options as a default with overrides by name', () => {
    const config = loadConfig({ ...minimal, RESILIENCE_TIMEOUT_MS: '1500, redis=100, subgraph:search=3000' });
    expect(config.resilience.timeoutMs('documents-store')).toBe(1500);
    expect(config.resilience.timeoutMs('redis')).toBe(100);
    expect(config.resilience.timeoutMs('subgraph:search')).toBe(3000);
    expect(loadConfig(minimal).resilience.timeoutMs('redis')).toBe(250);
    expect(loadConfig(minimal).resilience.readAttempts('redis')).toBe(1);
  });

  it('reads the idempotency key retention as a time unit, and names the variable when it is not one', () => {
    expect(loadConfig({ ...minimal, IDEMPOTENCY_KEY_RETENTION: '7d' }).documents.idempotencyRetentionMs).toBe(
      7 * 86_400_000,
    );
    expect(() => loadConfig({ ...minimal, IDEMPOTENCY_KEY_RETENTION: '24 hours' })).toThrow(
      /IDEMPOTENCY_KEY_RETENTION/,
    );
    expect(() => loadConfig({ ...minimal, IDEMPOTENCY_KEY_RETENTION: '0h' })).toThrow(
      /IDEMPOTENCY_KEY_RETENTION/,
    );
  });

  it('counts an empty variable as unset', () => {
    const config = loadConfig({ ...minimal, PORT: '', REDIS_URL: '', RESILIENCE_TIMEOUT_MS: '' });
    expect(config.gateway.port).toBe(4000);
    expect(config.cache.redisUrl).toBeUndefined();
    expect(config.resilience.timeoutMs('redis')).toBe(250);
  });

  it('reads the partner client list', () => {
    const config = loadConfig({ ...minimal, PARTNER_CLIENTS: 'svc-acme, acme-app' });
    expect(config.gateway.persistedOperations.partnerClients).toEqual(['svc-acme', 'acme-app']);
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

  it('allows browser pages on loopback in development, none in production, and exactly CORS_ORIGINS when set', () => {
    expect(loadConfig(minimal).gateway.corsOrigins).toEqual([
      'http://localhost:*',
      'http://127.0.0.1:*',
      'http://[::1]:*',
    ]);
    const production = {
      ...minimal,
      NODE_ENV: 'production',
      JWT_JWKS_URL: 'https://idp.example/jwks',
      CURSOR_SECRET: 'a-production-cursor-secret-of-32-chars!',
    };
    expect(loadConfig(production).gateway.corsOrigins).toEqual([]);
    expect(
      loadConfig({ ...production, CORS_ORIGINS: 'https://app.example.com, http://localhost:*' }).gateway
        .corsOrigins,
    ).toEqual(['https://app.example.com', 'http://localhost:*']);
  });

  it.each(['https://app.example.com/', 'app.example.com', '*'])(
    'refuses CORS_ORIGINS entry %s, naming the variable',
    (entry) => {
      expect(() => loadConfig({ ...minimal, CORS_ORIGINS: entry })).toThrow(
        /CORS_ORIGINS: (\[\d+\]: )?each origin is/,
      );
    },
  );

  it('passes OTEL_SERVICE_NAME to tracing, and leaves the service its own name without it', () => {
    expect(
      loadConfig({ ...minimal, OTEL_SERVICE_NAME: 'quarry-gateway' }).tracing.configuredServiceName,
    ).toBe('quarry-gateway');
    expect(loadConfig(minimal).tracing.configuredServiceName).toBeUndefined();
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
    [{ ...minimal, TLS_CERT: 'cert.pem' }, 'TLS_KEY'],
    [{ ...minimal, SUBGRAPH_TLS_KEY: 'client.key' }, 'SUBGRAPH_TLS_CERT'],
    [{ ...minimal, SUBGRAPH_CLIENT_CA: 'ca.pem' }, 'SUBGRAPH_CLIENT_CA'],
    [{ ...minimal, LIMIT_MAX_DEPTH: '0' }, 'LIMIT_MAX_DEPTH'],
    [{ ...minimal, MAX_REQUEST_BODY_BYTES: 'lots' }, 'MAX_REQUEST_BODY_BYTES'],
    [{ ...minimal, EXECUTION_TIMEOUT_MS: '-1' }, 'EXECUTION_TIMEOUT_MS'],
    [{ ...minimal, REDIS_URL: 'localhost' }, 'REDIS_URL'],
    [{ ...minimal, RESILIENCE_TIMEOUT_MS: 'redis=100' }, 'RESILIENCE_TIMEOUT_MS'],
    [{ ...minimal, BREAKER_FAILURE_THRESHOLD: '5,redis=often' }, 'BREAKER_FAILURE_THRESHOLD'],
    [{ ...minimal, RATE_LIMIT_TIERS: 'premium=10/20' }, 'RATE_LIMIT_TIERS'],
    [{ ...minimal, RATE_LIMIT_TIERS: 'standard=10' }, 'RATE_LIMIT_TIERS'],
    [{ ...minimal, RATE_LIMIT_TIERS: 'standard=0/10' }, 'RATE_LIMIT_TIERS'],
    [{ ...minimal, RATE_LIMIT_TIERS: 'standard=10/0' }, 'RATE_LIMIT_TIERS'],
    [{ ...minimal, RESILIENCE_TIMEOUT_MS: '2000,redis=' }, 'RESILIENCE_TIMEOUT_MS'],
    [{ ...minimal, JWT_ISSUER: '' }, 'JWT_ISSUER'],
    [{ ...minimal, RATE_LIMIT_FALLBACK_FRACTION: '2' }, 'RATE_LIMIT_FALLBACK_FRACTION'],
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
      maxRetries: 0,
      pointInTimeKeepAliveSeconds: 300,
      shards: 1,
      replicas: 1,
      rolloverMaxPrimaryShardSize: '50gb',
      rolloverMaxAge: '30d',
      warmAfter: '7d',
      coldAfter: '90d',
    });
  });

  it.each([
    [{ ...minimal, MONGO_URL: 'http://mongo:27017' }, 'MONGO_URL'],
    [{ ...minimal, MONGO_MAX_POOL_SIZE: '0' }, 'MONGO_MAX_POOL_SIZE'],
    [{ ...minimal, MONGO_DATABASE: 'bad name' }, 'MONGO_DATABASE'],
    [{ ...minimal, ELASTICSEARCH_URL: 'elasticsearch:9200' }, 'ELASTICSEARCH_URL'],
    [{ ...minimal, ELASTICSEARCH_INDEX_PREFIX: 'Upper' }, 'ELASTICSEARCH_INDEX_PREFIX'],
    [{ ...minimal, ELASTICSEARCH_MAX_RETRIES: '99' }, 'ELASTICSEARCH_MAX_RETRIES'],
    // A cached first page must find its point in time still open.
    [
      {
        ...minimal,
        ELASTICSEARCH_URL: 'http://elasticsearch:9200',
        ELASTICSEARCH_PIT_KEEP_ALIVE_SECONDS: '120',
        CACHE_SEARCH_TTL_SECONDS: '60',
      },
      'ELASTICSEARCH_PIT_KEEP_ALIVE_SECONDS',
    ],
    [{ ...minimal, ELASTICSEARCH_ROLLOVER_MAX_AGE: 'a month' }, 'ELASTICSEARCH_ROLLOVER_MAX_AGE'],
  ])('names the bad backend variable %#', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(new RegExp(`\\b${variable}:`));
  });
});

describe('per-service loaders', () => {
  it('loads the indexer without any JWT_* variable, and gives it no jwt section', () => {
    const config = loadIndexerConfig({ OUTBOX_PARTITIONS: '4' });
    expect(config.indexer.partitions).toBe(4);
    expect(config).not.toHaveProperty('jwt');
    expect(config).not.toHaveProperty('gateway');
  });

  it.each([
    ['gateway', loadGatewayConfig],
    ['documents', loadDocumentsConfig],
    ['search', loadSearchConfig],
  ])('requires an issuer for the %s service, which verifies tokens', (_service, load) => {
    expect(() => load({})).toThrow(/\bJWT_ISSUER:/);
    expect(load(minimal).jwt.issuers).toHaveLength(1);
  });

  it('fills one section from two concerns: the search service and its workers', () => {
    expect(loadSearchConfig({ ...minimal, SEARCH_WORKERS: '2' }).search).toMatchObject({
      port: 4002,
      maxFirst: 100,
      workers: 2,
      queueTimeoutMs: 250,
    });
  });

  it('refuses two concerns that declare one variable differently', () => {
    const twin = defineConcern({ shape: { PORT: z.string() }, section: () => ({}) });
    expect(() => configLoader(twin, gatewayConcern)).toThrow(/^PORT is declared by two concerns/);
  });

  it('ignores the variables of concerns a service does not compose', () => {
    // A bad value the gateway never reads cannot stop it; the service that reads it names it.
    expect(loadGatewayConfig({ ...minimal, INDEXER_LEASE_MS: '1' }).gateway.port).toBe(4000);
    expect(() => loadIndexerConfig({ INDEXER_LEASE_MS: '1' })).toThrow(/\bINDEXER_LEASE_MS:/);
    expect(loadIndexerConfig({ NODE_ENV: 'production', MONGO_URL: 'mongodb://mongo' }).production).toBe(true);
    expect(() =>
      loadSearchConfig({ ...minimal, NODE_ENV: 'production', JWT_JWKS_URL: 'https://idp.example/jwks' }),
    ).toThrow(/\bCURSOR_SECRET:/);
  });

  it.each([
    [loadIndexerConfig, { TLS_CERT: 'cert.pem' }, 'TLS_KEY'],
    [loadIndexerConfig, { SEARCH_WORKERS: '0' }, 'SEARCH_WORKERS'],
    [loadIndexerConfig, { MONGO_URL: 'http://mongo' }, 'MONGO_URL'],
    [loadIndexerConfig, { TOMBSTONE_RETENTION: '0h' }, 'TOMBSTONE_RETENTION'],
    [loadDocumentsConfig, { ...minimal, DOCUMENTS_TENANT_QUEUE: '-1' }, 'DOCUMENTS_TENANT_QUEUE'],
    [loadGatewayConfig, { ...minimal, GATEWAY_TENANT_CONCURRENCY: '0' }, 'GATEWAY_TENANT_CONCURRENCY'],
    [loadDocumentsConfig, { ...minimal, QUOTA_TIERS: 'premium' }, 'QUOTA_TIERS'],
    [loadSearchConfig, { ...minimal, SEARCH_TENANT_QUEUE: '-1' }, 'SEARCH_TENANT_QUEUE'],
    [
      loadGatewayConfig,
      { ...minimal, RESPONSE_CACHE_MAX_ENTRY_BYTES: String(8 * 1024 * 1024) },
      'RESPONSE_CACHE_MAX_ENTRY_BYTES',
    ],
    [loadGatewayConfig, { ...minimal, SEARCH_MAX_FIRST: '0' }, 'SEARCH_MAX_FIRST'],
  ])('names the bad variable in one line, per service %#', (load, env, variable) => {
    expect(() => load(env)).toThrow(ConfigError);
    expect(() => load(env)).toThrow(new RegExp(`^  ${variable}: .+$`, 'm'));
  });
});

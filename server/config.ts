import { resolve } from 'node:path';
import { z } from 'zod';
import { checkJwtEnvironment, jwtConfigFrom, jwtEnvironmentShape } from './auth/issuer-config.ts';

/**
 * All configuration, parsed once at startup. Nothing else in Quarry reads
 * `process.env`: services receive the typed slice they need.
 */
const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const timeUnit = (fallback: string) =>
  z
    .string()
    .regex(/^\d+(d|h|m|s)$/, 'a time unit such as 30d')
    .default(fallback);
const millisecondsPerUnit: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 };
/** A time unit such as 24h, as milliseconds. */
const durationMs = (fallback: string) =>
  timeUnit(fallback).transform((value) => {
    const unit = value.slice(-1);
    return Number(value.slice(0, -1)) * (millisecondsPerUnit[unit] ?? Number.NaN);
  });
const list = z.string().transform((value) =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean),
);

/**
 * A number for every dependency, with overrides by name:
 * `2000,redis=250,subgraph:search=3000`. Becomes a function of the
 * dependency name (see `PerDependency` in server/resilience).
 */
const perDependency = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((value, context) => {
      const overrides = new Map<string, number>();
      let base: number | undefined;
      for (const item of value
        .split(',')
        .map((part) => part.trim())
        .filter(Boolean)) {
        const [name, raw = ''] = item.includes('=') ? item.split('=', 2) : [undefined, item];
        // Number('') is 0: `redis=` would silently mean a 0 ms timeout.
        const number = raw.trim() === '' ? Number.NaN : Number(raw);
        if (!Number.isFinite(number) || number < 0) {
          context.addIssue({ code: 'custom', message: `"${item}" is not a non-negative number` });
          return z.NEVER;
        }
        if (name) overrides.set(name.trim(), number);
        else base = number;
      }
      if (base === undefined) {
        context.addIssue({
          code: 'custom',
          message: `"${value}" needs a default value, such as 2000,redis=250`,
        });
        return z.NEVER;
      }
      const fallbackValue = base;
      return (dependency: string) => overrides.get(dependency) ?? fallbackValue;
    });

const byteUnits: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4 };
/** `1000000`, `500mb` or `10gb`, as a number of bytes. */
function parseBytes(text: string): number | undefined {
  const match = /^(\d+)(b|kb|mb|gb|tb)?$/i.exec(text.trim());
  return match ? Number(match[1]) * (byteUnits[(match[2] ?? 'b').toLowerCase()] ?? 1) : undefined;
}
const byteSize = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((value, context) => {
      const bytes = parseBytes(value);
      if (bytes === undefined || bytes < 1) {
        context.addIssue({ code: 'custom', message: `"${value}" is not a byte size such as 500mb or 10gb` });
        return z.NEVER;
      }
      return bytes;
    });

/** Quota overrides per tier: `premium=10000000/100gb` (documents / stored bytes). */
const tierQuotas = z
  .string()
  .default('')
  .transform((value, context) => {
    const tiers: Record<string, { maxDocuments: number; maxBytes: number }> = {};
    for (const item of value
      .split(',')
      .map((part) => part.trim())
      .filter(Boolean)) {
      const match = /^([\w-]+)=(\d+)\/(\w+)$/.exec(item);
      const maxBytes = match ? parseBytes(match[3] ?? '') : undefined;
      if (!match || maxBytes === undefined || Number(match[2]) < 1 || maxBytes < 1) {
        context.addIssue({
          code: 'custom',
          message: `"${item}" is not tier=documents/bytes, such as premium=10000000/100gb`,
        });
        return z.NEVER;
      }
      tiers[match[1] as string] = { maxDocuments: Number(match[2]), maxBytes };
    }
    return tiers;
  });

/** Request budgets per tenant tier: `standard=20/40,premium=200/400` (refill per second / burst). */
const tierLimits = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((value, context) => {
      const tiers: Record<string, { perSecond: number; burst: number }> = {};
      for (const item of value
        .split(',')
        .map((part) => part.trim())
        .filter(Boolean)) {
        const match = /^([\w-]+)=(\d+(?:\.\d+)?)\/(\d+)$/.exec(item);
        if (!match) {
          context.addIssue({ code: 'custom', message: `"${item}" is not tier=perSecond/burst` });
          return z.NEVER;
        }
        const [, name = '', perSecond, burst] = match;
        if (Number(perSecond) <= 0 || Number(burst) < 1) {
          context.addIssue({
            code: 'custom',
            message: `"${item}" needs a refill above 0 and a burst of at least 1`,
          });
          return z.NEVER;
        }
        tiers[name] = { perSecond: Number(perSecond), burst: Number(burst) };
      }
      const { standard } = tiers;
      if (!standard) {
        context.addIssue({
          code: 'custom',
          message: 'needs a "standard" tier, the default for tokens without a tier',
        });
        return z.NEVER;
      }
      return { ...tiers, standard };
    });

/** A browser origin, or any port of one host: `https://app.example.com`, `http://localhost:*`. */
const origin = z
  .string()
  .regex(
    /^https?:\/\/(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:(\d{1,5}|\*))?$/i,
    'each origin is scheme://host[:port] with no path, such as https://app.example.com or http://localhost:*',
  );

/** Outside production, pages on this machine may call the API on any port (a front end's dev server). */
const developmentCorsOrigins = ['http://localhost:*', 'http://127.0.0.1:*', 'http://[::1]:*'];

const environmentSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    HOST: z.string().min(1).default('127.0.0.1'),
    DATA_DIR: z.string().min(1).default('./data'),

    ...jwtEnvironmentShape,

    PORT: port(4000),
    DOCUMENTS_PORT: port(4001),
    SEARCH_PORT: port(4002),
    DOCUMENTS_URL: z.url().default('http://127.0.0.1:4001/graphql'),
    SEARCH_URL: z.url().default('http://127.0.0.1:4002/graphql'),
    SUPERGRAPH_PATH: z.string().min(1).default('schema/supergraph.graphql'),
    CORS_ORIGINS: list.pipe(z.array(origin)).optional(),
    SUBGRAPH_TIMEOUT_MS: positiveInt(5000),
    SUBGRAPH_MAX_SOCKETS: positiveInt(64),
    GATEWAY_TENANT_CONCURRENCY: positiveInt(4),
    GATEWAY_TENANT_QUEUE: z.coerce.number().int().min(0).default(64),
    GATEWAY_QUEUE_TIMEOUT_MS: positiveInt(5000),
    DOCUMENTS_TENANT_CONCURRENCY: positiveInt(4),
    DOCUMENTS_TENANT_QUEUE: z.coerce.number().int().min(0).default(8),
    DOCUMENTS_QUEUE_TIMEOUT_MS: positiveInt(250),

    CURSOR_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
    SEARCH_MAX_FIRST: z.coerce.number().int().min(1).max(1000).default(100),
    SEARCH_WORKERS: z.coerce.number().int().min(1).max(64).default(4),
    SEARCH_QUERY_TIMEOUT_MS: positiveInt(1000),
    SEARCH_TENANT_CONCURRENCY: positiveInt(2),
    SEARCH_TENANT_QUEUE: z.coerce.number().int().min(0).default(4),
    SEARCH_QUEUE_TIMEOUT_MS: positiveInt(250),
    INDEXER_POLL_MS: positiveInt(100),
    INDEXER_BATCH_SIZE: positiveInt(500),
    INDEXER_MAX_ATTEMPTS: positiveInt(5),
    TOMBSTONE_RETENTION: durationMs('7d').refine((ms) => ms > 0, 'must be longer than 0'),
    TOMBSTONE_PRUNE_INTERVAL: durationMs('1h').refine((ms) => ms > 0, 'must be longer than 0'),
    TOMBSTONE_PRUNE_BATCH_SIZE: positiveInt(1000),
    OUTBOX_PARTITIONS: z.coerce.number().int().min(1).max(1024).default(16),
    INDEXER_LEASE_MS: z.coerce.number().int().min(300).default(15_000),

    // Production backends: setting the URL selects the backend; without it the embedded one stays in use.
    MONGO_URL: z
      .string()
      .regex(/^mongodb(\+srv)?:\/\//, 'must be a mongodb:// or mongodb+srv:// connection string')
      .optional(),
    MONGO_DATABASE: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,63}$/, 'letters, digits, _ and - only')
      .default('quarry'),
    MONGO_MAX_POOL_SIZE: positiveInt(20),
    MONGO_SERVER_SELECTION_TIMEOUT_MS: positiveInt(3000),
    MONGO_TIMEOUT_MS: positiveInt(5000),
    ELASTICSEARCH_URL: z
      .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
      .optional(),
    ELASTICSEARCH_API_KEY: z.string().min(1).optional(),
    ELASTICSEARCH_CA_FILE: z.string().min(1).optional(),
    ELASTICSEARCH_INDEX_PREFIX: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,100}$/, 'lower-case letters, digits, _ and - only')
      .default('quarry-documents'),
    ELASTICSEARCH_REQUEST_TIMEOUT_MS: positiveInt(5000),
    // 0: reads are retried by the search-index policy, writes by the indexer; a third layer would multiply them.
    ELASTICSEARCH_MAX_RETRIES: z.coerce.number().int().min(0).max(10).default(0),
    ELASTICSEARCH_PIT_KEEP_ALIVE_SECONDS: positiveInt(300),
    ELASTICSEARCH_SHARDS: positiveInt(1),
    ELASTICSEARCH_REPLICAS: z.coerce.number().int().min(0).max(10).default(1),
    ELASTICSEARCH_ROLLOVER_MAX_PRIMARY_SHARD_SIZE: z
      .string()
      .regex(/^\d+(b|kb|mb|gb|tb)$/, 'a byte size such as 50gb')
      .default('50gb'),
    ELASTICSEARCH_ROLLOVER_MAX_AGE: timeUnit('30d'),
    ELASTICSEARCH_WARM_AFTER: timeUnit('7d'),
    ELASTICSEARCH_COLD_AFTER: timeUnit('90d'),
    INDEXER_PORT: port(4003),
    QUOTA_MAX_DOCUMENTS: positiveInt(1_000_000),
    QUOTA_MAX_BYTES: byteSize('10gb'),
    QUOTA_TIERS: tierQuotas,
    IDEMPOTENCY_KEY_RETENTION: durationMs('24h').refine((ms) => ms > 0, 'must be longer than 0'),

    METRICS_TENANTS: list.default([]),
    METRICS_MAX_TENANTS: z.coerce.number().int().min(0).max(1000).default(50),
    METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
    METRICS_HOST: z.string().min(1).default('127.0.0.1'),
    METRICS_MAX_OPERATIONS: z.coerce.number().int().min(0).max(1000).default(20),
    // The OpenTelemetry SDK reads the other OTEL_* variables itself; these only decide whether it starts.
    OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
    OTEL_TRACES_EXPORTER: z.string().min(1).optional(),
    OTEL_SDK_DISABLED: z.enum(['true', 'false']).optional(),
    // The SDK would read it too, but the service's own name, passed explicitly, would win over it.
    OTEL_SERVICE_NAME: z.string().min(1).optional(),
    // Security hardening (issue #5): operation limits, persisted operations, transport.
    MAX_REQUEST_BODY_BYTES: positiveInt(1024 * 1024),
    MAX_RESPONSE_BYTES: positiveInt(4 * 1024 * 1024),
    MAX_BUFFERED_BODY_BYTES: positiveInt(64 * 1024 * 1024),
    HTTP_HEADERS_TIMEOUT_MS: positiveInt(10_000),
    HTTP_REQUEST_TIMEOUT_MS: positiveInt(30_000),
    HTTP_KEEP_ALIVE_TIMEOUT_MS: positiveInt(65_000),
    EXECUTION_TIMEOUT_MS: positiveInt(15_000),
    LIMIT_MAX_DEPTH: positiveInt(8),
    LIMIT_MAX_ALIASES: z.coerce.number().int().min(0).default(15),
    LIMIT_MAX_TOKENS: positiveInt(1000),
    LIMIT_MAX_DIRECTIVES: z.coerce.number().int().min(0).default(20),
    LIMIT_MAX_COST: positiveInt(10_000),
    PERSISTED_QUERY_MANIFEST: z.string().min(1).default('schema/persisted-query-manifest.json'),
    PERSISTED_QUERY_RELOAD_MS: positiveInt(2000),
    PARTNER_CLIENTS: list.default([]),
    TLS_CERT: z.string().min(1).optional(),
    TLS_KEY: z.string().min(1).optional(),
    SUBGRAPH_TLS_CA: z.string().min(1).optional(),
    SUBGRAPH_TLS_CERT: z.string().min(1).optional(),
    SUBGRAPH_TLS_KEY: z.string().min(1).optional(),
    SUBGRAPH_CLIENT_CA: z.string().min(1).optional(),

    REDIS_URL: z.url().optional(),
    REDIS_CA_FILE: z.string().min(1).optional(),
    REDIS_COMMAND_TIMEOUT_MS: positiveInt(250),
    REDIS_CLIENT_TRACKING: z.stringbool().default(true),
    CACHE_MEMORY_MAX_ENTRIES: positiveInt(10_000),
    CACHE_MEMORY_MAX_MB: z.coerce.number().positive().max(65_536).default(64),
    CACHE_SEARCH_TTL_SECONDS: positiveInt(60),
    CACHE_STALE_TTL_SECONDS: positiveInt(86_400),
    CACHE_DOCUMENT_TTL_SECONDS: positiveInt(300),
    APQ_TTL_SECONDS: positiveInt(86_400),
    RESPONSE_CACHE_TTL_SECONDS: z.coerce.number().int().min(0).max(300).default(60),
    RESPONSE_CACHE_REFRESH_SECONDS: z.coerce.number().min(0).max(300).default(2),
    RESPONSE_CACHE_NEAR_MAX_MB: z.coerce.number().min(0).max(65_536).default(64),
    RESPONSE_CACHE_MAX_ENTRY_BYTES: positiveInt(1024 * 1024),

    RESILIENCE_TIMEOUT_MS: perDependency('2000,redis=250'),
    BREAKER_FAILURE_THRESHOLD: perDependency('5'),
    BREAKER_HALF_OPEN_AFTER_MS: perDependency('5000,redis=1000'),
    RETRY_MAX_ATTEMPTS: perDependency('3,redis=1'),
    RETRY_INITIAL_DELAY_MS: perDependency('25'),

    RATE_LIMIT_TIERS: tierLimits('standard=50/100,premium=500/1000'),
    RATE_LIMIT_FALLBACK_FRACTION: z.coerce.number().gt(0).max(1).default(0.25),
    RATE_LIMIT_LEASE_MS: z.coerce.number().min(0).max(1000).default(10),
  })
  .superRefine((env, context) => {
    checkJwtEnvironment(env, env.NODE_ENV === 'production', context);
    const pairs = [
      ['TLS_CERT', 'TLS_KEY'],
      ['SUBGRAPH_TLS_CERT', 'SUBGRAPH_TLS_KEY'],
    ] as const;
    for (const [cert, key] of pairs) {
      if (Boolean(env[cert]) !== Boolean(env[key])) {
        context.addIssue({
          code: 'custom',
          path: [env[cert] ? key : cert],
          message: `${cert} and ${key} go together: set both or neither`,
        });
      }
    }
    // A first page served from the caches carries its point in time: it must still be open when the client
    // asks for the next page, or the client would start again into the same cached page. Only Elasticsearch
    // pages in points in time.
    if (
      env.ELASTICSEARCH_URL &&
      env.ELASTICSEARCH_PIT_KEEP_ALIVE_SECONDS <=
        env.CACHE_SEARCH_TTL_SECONDS + env.RESPONSE_CACHE_TTL_SECONDS
    ) {
      context.addIssue({
        code: 'custom',
        path: ['ELASTICSEARCH_PIT_KEEP_ALIVE_SECONDS'],
        message:
          'must be more than CACHE_SEARCH_TTL_SECONDS + RESPONSE_CACHE_TTL_SECONDS (a cached page keeps its point in time)',
      });
    }
    if (
      env.RESPONSE_CACHE_TTL_SECONDS > 0 &&
      env.RESPONSE_CACHE_REFRESH_SECONDS >= env.RESPONSE_CACHE_TTL_SECONDS
    ) {
      context.addIssue({
        code: 'custom',
        path: ['RESPONSE_CACHE_REFRESH_SECONDS'],
        message: 'must be less than RESPONSE_CACHE_TTL_SECONDS (0 turns refreshing off)',
      });
    }
    if (env.RESPONSE_CACHE_MAX_ENTRY_BYTES > env.MAX_RESPONSE_BYTES) {
      context.addIssue({
        code: 'custom',
        path: ['RESPONSE_CACHE_MAX_ENTRY_BYTES'],
        message: 'must not be more than MAX_RESPONSE_BYTES (a cache hit is not measured again)',
      });
    }
    if (env.HTTP_HEADERS_TIMEOUT_MS > env.HTTP_REQUEST_TIMEOUT_MS) {
      context.addIssue({
        code: 'custom',
        path: ['HTTP_HEADERS_TIMEOUT_MS'],
        message: 'must not be more than HTTP_REQUEST_TIMEOUT_MS (the headers are part of the request)',
      });
    }
    if (env.SUBGRAPH_CLIENT_CA && !env.TLS_CERT) {
      context.addIssue({
        code: 'custom',
        path: ['SUBGRAPH_CLIENT_CA'],
        message: 'requiring client certificates needs TLS: set TLS_CERT and TLS_KEY too',
      });
    }
    if (env.NODE_ENV === 'production') {
      if (!env.CURSOR_SECRET) {
        context.addIssue({
          code: 'custom',
          path: ['CURSOR_SECRET'],
          message: 'required in production, so every search replica signs cursors with the same key',
        });
      }
    }
  });

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** `PORT: ...`, and inside a list or JSON variable `JWT_ISSUERS: [1].audience: ...`. */
function describeIssue({ path: [variable = '(environment)', ...inner], message }: z.core.$ZodIssue): string {
  const where = inner
    .map((key) => (typeof key === 'number' ? `[${key}]` : `.${String(key)}`))
    .join('')
    .replace(/^\./, '');
  return `${String(variable)}: ${where ? `${where}: ` : ''}${message}`;
}

export function loadConfig(env: Record<string, string | undefined> = process.env) {
  // An empty variable counts as unset (compose's `${VAR:-}`); coerced, it would read as 0, such as PORT 0.
  const parsed = environmentSchema.safeParse(
    Object.fromEntries(Object.entries(env).filter(([, value]) => value !== '')),
  );
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `  ${describeIssue(issue)}`);
    throw new ConfigError(`Invalid configuration:\n${problems.join('\n')}`);
  }
  const e = parsed.data;
  const dataDir = resolve(e.DATA_DIR);
  return {
    production: e.NODE_ENV === 'production',
    logLevel: e.LOG_LEVEL,
    host: e.HOST,
    dataDir,
    embeddedDatabasePath: resolve(dataDir, 'quarry.db'),
    jwt: jwtConfigFrom(e),
    gateway: {
      port: e.PORT,
      corsOrigins: e.CORS_ORIGINS ?? (e.NODE_ENV === 'production' ? [] : developmentCorsOrigins),
      supergraphPath: resolve(e.SUPERGRAPH_PATH),
      subgraphUrls: { documents: e.DOCUMENTS_URL, search: e.SEARCH_URL } as Record<string, string>,
      subgraphTimeoutMs: e.SUBGRAPH_TIMEOUT_MS,
      subgraphMaxSockets: e.SUBGRAPH_MAX_SOCKETS,
      maxBodyBytes: e.MAX_REQUEST_BODY_BYTES,
      maxResponseBytes: e.MAX_RESPONSE_BYTES,
      maxBufferedBodyBytes: e.MAX_BUFFERED_BODY_BYTES,
      /** Each tenant's share of the gateway: operations in flight, and how many may wait for a slot. */
      tenantBulkhead: {
        concurrency: e.GATEWAY_TENANT_CONCURRENCY,
        queue: e.GATEWAY_TENANT_QUEUE,
        queueTimeoutMs: e.GATEWAY_QUEUE_TIMEOUT_MS,
      },
      httpTimeouts: {
        headersMs: e.HTTP_HEADERS_TIMEOUT_MS,
        requestMs: e.HTTP_REQUEST_TIMEOUT_MS,
        keepAliveMs: e.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      },
      executionTimeoutMs: e.EXECUTION_TIMEOUT_MS,
      limits: {
        maxDepth: e.LIMIT_MAX_DEPTH,
        maxAliases: e.LIMIT_MAX_ALIASES,
        maxTokens: e.LIMIT_MAX_TOKENS,
        maxDirectives: e.LIMIT_MAX_DIRECTIVES,
        maxCost: e.LIMIT_MAX_COST,
        // The gateway refuses a `first` the search subgraph would refuse, without calling it.
        maxFirst: e.SEARCH_MAX_FIRST,
      },
      persistedOperations: {
        manifestPath: resolve(e.PERSISTED_QUERY_MANIFEST),
        reloadIntervalMs: e.PERSISTED_QUERY_RELOAD_MS,
        partnerClients: e.PARTNER_CLIENTS,
      },
      /** Client side of mTLS to the subgraphs: the CA that signs their certificates, and ours. */
      subgraphTls: {
        caPath: e.SUBGRAPH_TLS_CA,
        certPath: e.SUBGRAPH_TLS_CERT,
        keyPath: e.SUBGRAPH_TLS_KEY,
      },
    },
    /** Every service's listener: HTTPS when set (the one-process dev stack shares it). */
    tls: e.TLS_CERT && e.TLS_KEY ? { certPath: e.TLS_CERT, keyPath: e.TLS_KEY } : undefined,
    /** Subgraphs require a client certificate signed by this CA when set (mTLS from the gateway). */
    subgraphClientCaPath: e.SUBGRAPH_CLIENT_CA,
    documents: {
      port: e.DOCUMENTS_PORT,
      /** What a tenant may store: the default, and overrides by the token's tier. */
      quotas: {
        standard: { maxDocuments: e.QUOTA_MAX_DOCUMENTS, maxBytes: e.QUOTA_MAX_BYTES },
        tiers: e.QUOTA_TIERS,
      },
      /** How long a mutation's idempotency key, and the outcome it replays, are kept. */
      idempotencyRetentionMs: e.IDEMPOTENCY_KEY_RETENTION,
      /** Each tenant's share of the document store: reads and writes made for that tenant. */
      tenantBulkhead: {
        concurrency: e.DOCUMENTS_TENANT_CONCURRENCY,
        queue: e.DOCUMENTS_TENANT_QUEUE,
        queueTimeoutMs: e.DOCUMENTS_QUEUE_TIMEOUT_MS,
      },
    },
    search: {
      port: e.SEARCH_PORT,
      cursorSecret: e.CURSOR_SECRET,
      maxFirst: e.SEARCH_MAX_FIRST,
      /** Embedded backend: worker processes for searches, and how long one search may run on one. */
      workers: e.SEARCH_WORKERS,
      queryTimeoutMs: e.SEARCH_QUERY_TIMEOUT_MS,
      /** How long a search may wait for its tenant's slot, and then for a worker. */
      queueTimeoutMs: e.SEARCH_QUEUE_TIMEOUT_MS,
      /** Each tenant's share of the search backend, whichever it is. */
      tenantBulkhead: {
        concurrency: e.SEARCH_TENANT_CONCURRENCY,
        queue: e.SEARCH_TENANT_QUEUE,
        queueTimeoutMs: e.SEARCH_QUEUE_TIMEOUT_MS,
      },
    },
    indexer: {
      pollIntervalMs: e.INDEXER_POLL_MS,
      batchSize: e.INDEXER_BATCH_SIZE,
      maxAttempts: e.INDEXER_MAX_ATTEMPTS,
      port: e.INDEXER_PORT,
      /** The outbox's partitions, each held by one indexer at a time under a lease of `leaseMs`. */
      partitions: e.OUTBOX_PARTITIONS,
      leaseMs: e.INDEXER_LEASE_MS,
    },
    tombstones: {
      retentionMs: e.TOMBSTONE_RETENTION,
      pruneIntervalMs: e.TOMBSTONE_PRUNE_INTERVAL,
      pruneBatchSize: e.TOMBSTONE_PRUNE_BATCH_SIZE,
    },
    metrics: {
      /** A listener of its own for `/metrics` (and health), apart from clients; one service per process. */
      listener: e.METRICS_PORT === undefined ? undefined : { port: e.METRICS_PORT, host: e.METRICS_HOST },
      tenantAllowlist: e.METRICS_TENANTS,
      maxTenantLabels: e.METRICS_MAX_TENANTS,
      maxOperationLabels: e.METRICS_MAX_OPERATIONS,
    },
    tracing: {
      // Off unless an exporter is named, so a laptop without a collector sends nothing anywhere.
      enabled:
        e.OTEL_SDK_DISABLED !== 'true' &&
        (e.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined ||
          (e.OTEL_TRACES_EXPORTER !== undefined && e.OTEL_TRACES_EXPORTER !== 'none')),
      configuredServiceName: e.OTEL_SERVICE_NAME,
    },
    mongo: e.MONGO_URL
      ? {
          url: e.MONGO_URL,
          database: e.MONGO_DATABASE,
          maxPoolSize: e.MONGO_MAX_POOL_SIZE,
          serverSelectionTimeoutMs: e.MONGO_SERVER_SELECTION_TIMEOUT_MS,
          timeoutMs: e.MONGO_TIMEOUT_MS,
        }
      : undefined,
    elasticsearch: e.ELASTICSEARCH_URL
      ? {
          url: e.ELASTICSEARCH_URL,
          apiKey: e.ELASTICSEARCH_API_KEY,
          /** Trust anchor for an https:// ELASTICSEARCH_URL signed by a private CA. */
          caPath: e.ELASTICSEARCH_CA_FILE,
          indexPrefix: e.ELASTICSEARCH_INDEX_PREFIX,
          requestTimeoutMs: e.ELASTICSEARCH_REQUEST_TIMEOUT_MS,
          maxRetries: e.ELASTICSEARCH_MAX_RETRIES,
          pointInTimeKeepAliveSeconds: e.ELASTICSEARCH_PIT_KEEP_ALIVE_SECONDS,
          shards: e.ELASTICSEARCH_SHARDS,
          replicas: e.ELASTICSEARCH_REPLICAS,
          rolloverMaxPrimaryShardSize: e.ELASTICSEARCH_ROLLOVER_MAX_PRIMARY_SHARD_SIZE,
          rolloverMaxAge: e.ELASTICSEARCH_ROLLOVER_MAX_AGE,
          warmAfter: e.ELASTICSEARCH_WARM_AFTER,
          coldAfter: e.ELASTICSEARCH_COLD_AFTER,
        }
      : undefined,
    cache: {
      redisUrl: e.REDIS_URL,
      /** Trust anchor for a rediss:// REDIS_URL signed by a private CA. */
      redisCaPath: e.REDIS_CA_FILE,
      redisCommandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
      /** Generation counters held in process while Redis tracks them (CLIENT TRACKING). */
      redisClientTracking: e.REDIS_CLIENT_TRACKING,
      memoryMaxEntries: e.CACHE_MEMORY_MAX_ENTRIES,
      /** The in-process cache's total size, keys and values, when REDIS_URL is unset. */
      memoryMaxBytes: e.CACHE_MEMORY_MAX_MB * 1024 * 1024,
      searchTtlSeconds: e.CACHE_SEARCH_TTL_SECONDS,
      staleTtlSeconds: e.CACHE_STALE_TTL_SECONDS,
      documentTtlSeconds: e.CACHE_DOCUMENT_TTL_SECONDS,
      apqTtlSeconds: e.APQ_TTL_SECONDS,
      /** Whole query responses at the gateway; 0 turns the response cache off. */
      responseTtlSeconds: e.RESPONSE_CACHE_TTL_SECONDS,
      responseRefreshSeconds: e.RESPONSE_CACHE_REFRESH_SECONDS,
      /** Bytes of cached responses each gateway keeps in process in front of Redis; 0 keeps none. */
      responseNearMaxBytes: e.RESPONSE_CACHE_NEAR_MAX_MB * 1024 * 1024,
      /** Larger responses are sent but not cached, in Redis or in process. */
      responseMaxEntryBytes: e.RESPONSE_CACHE_MAX_ENTRY_BYTES,
    },
    resilience: {
      timeoutMs: e.RESILIENCE_TIMEOUT_MS,
      failureThreshold: e.BREAKER_FAILURE_THRESHOLD,
      halfOpenAfterMs: e.BREAKER_HALF_OPEN_AFTER_MS,
      readAttempts: e.RETRY_MAX_ATTEMPTS,
      retryInitialDelayMs: e.RETRY_INITIAL_DELAY_MS,
    },
    rateLimit: {
      tiers: e.RATE_LIMIT_TIERS,
      fallbackFraction: e.RATE_LIMIT_FALLBACK_FRACTION,
      leaseMs: e.RATE_LIMIT_LEASE_MS,
    },
  };
}

export type QuarryConfig = ReturnType<typeof loadConfig>;
export type JwtConfig = QuarryConfig['jwt'];
export type MongoConfig = NonNullable<QuarryConfig['mongo']>;
export type ElasticsearchConfig = NonNullable<QuarryConfig['elasticsearch']>;

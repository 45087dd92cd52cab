import { resolve } from 'node:path';
import { z } from 'zod';

/**
 * All configuration, parsed once at startup. Nothing else in Quarry reads
 * `process.env`: services receive the typed slice they need.
 */
const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
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
        const [name, raw] = item.includes('=') ? item.split('=', 2) : [undefined, item];
        const number = Number(raw);
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

const environmentSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    HOST: z.string().min(1).default('127.0.0.1'),
    DATA_DIR: z.string().min(1).default('./data'),

    JWT_JWKS_URL: z.url().optional(),
    JWT_JWKS_FILE: z.string().min(1).optional(),
    JWT_ISSUER: z.string().min(1),
    JWT_AUDIENCE: z.string().min(1),
    JWT_ALGORITHMS: list
      .pipe(z.array(z.enum(['RS256', 'ES256', 'PS256', 'EdDSA'])).min(1))
      .default(['RS256', 'ES256']),
    JWT_CLOCK_TOLERANCE_SECONDS: z.coerce.number().int().min(0).max(300).default(30),
    JWT_JWKS_COOLDOWN_SECONDS: z.coerce.number().int().min(0).default(30),

    PORT: port(4000),
    DOCUMENTS_PORT: port(4001),
    SEARCH_PORT: port(4002),
    DOCUMENTS_URL: z.url().default('http://127.0.0.1:4001/graphql'),
    SEARCH_URL: z.url().default('http://127.0.0.1:4002/graphql'),
    SUPERGRAPH_PATH: z.string().min(1).default('schema/supergraph.graphql'),
    SUBGRAPH_TIMEOUT_MS: positiveInt(5000),
    SUBGRAPH_MAX_SOCKETS: positiveInt(64),

    CURSOR_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
    SEARCH_MAX_FIRST: z.coerce.number().int().min(1).max(1000).default(100),
    INDEXER_POLL_MS: positiveInt(100),
    INDEXER_BATCH_SIZE: positiveInt(500),
    INDEXER_PORT: port(4003),

    REDIS_URL: z.url().optional(),
    REDIS_COMMAND_TIMEOUT_MS: positiveInt(250),
    CACHE_MEMORY_MAX_ENTRIES: positiveInt(10_000),
    CACHE_SEARCH_TTL_SECONDS: positiveInt(60),
    CACHE_STALE_TTL_SECONDS: positiveInt(86_400),
    CACHE_DOCUMENT_TTL_SECONDS: positiveInt(300),
    APQ_TTL_SECONDS: positiveInt(86_400),

    RESILIENCE_TIMEOUT_MS: perDependency('2000,redis=250'),
    BREAKER_FAILURE_THRESHOLD: perDependency('5'),
    BREAKER_HALF_OPEN_AFTER_MS: perDependency('5000,redis=1000'),
    RETRY_MAX_ATTEMPTS: perDependency('3,redis=1'),
    RETRY_INITIAL_DELAY_MS: perDependency('25'),

    RATE_LIMIT_TIERS: tierLimits('standard=50/100,premium=500/1000'),
    RATE_LIMIT_FALLBACK_FRACTION: z.coerce.number().gt(0).max(1).default(0.25),
  })
  .superRefine((env, context) => {
    if (!env.JWT_JWKS_URL && !env.JWT_JWKS_FILE) {
      context.addIssue({
        code: 'custom',
        path: ['JWT_JWKS_URL'],
        message: 'set JWT_JWKS_URL or JWT_JWKS_FILE',
      });
    }
    if (env.NODE_ENV === 'production') {
      if (!env.JWT_JWKS_URL) {
        context.addIssue({
          code: 'custom',
          path: ['JWT_JWKS_URL'],
          message: "required in production: the identity provider's JWKS, not a local development key",
        });
      }
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

export function loadConfig(env: Record<string, string | undefined> = process.env) {
  const parsed = environmentSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `  ${String(issue.path[0] ?? '(environment)')}: ${issue.message}`,
    );
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
    jwt: {
      jwksUrl: e.JWT_JWKS_URL,
      jwksFile: e.JWT_JWKS_FILE,
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
      algorithms: e.JWT_ALGORITHMS,
      clockToleranceSeconds: e.JWT_CLOCK_TOLERANCE_SECONDS,
      jwksCooldownSeconds: e.JWT_JWKS_COOLDOWN_SECONDS,
    },
    gateway: {
      port: e.PORT,
      supergraphPath: resolve(e.SUPERGRAPH_PATH),
      subgraphUrls: { documents: e.DOCUMENTS_URL, search: e.SEARCH_URL } as Record<string, string>,
      subgraphTimeoutMs: e.SUBGRAPH_TIMEOUT_MS,
      subgraphMaxSockets: e.SUBGRAPH_MAX_SOCKETS,
    },
    documents: { port: e.DOCUMENTS_PORT },
    search: {
      port: e.SEARCH_PORT,
      cursorSecret: e.CURSOR_SECRET,
      maxFirst: e.SEARCH_MAX_FIRST,
    },
    indexer: { port: e.INDEXER_PORT, pollIntervalMs: e.INDEXER_POLL_MS, batchSize: e.INDEXER_BATCH_SIZE },
    cache: {
      redisUrl: e.REDIS_URL,
      redisCommandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
      memoryMaxEntries: e.CACHE_MEMORY_MAX_ENTRIES,
      searchTtlSeconds: e.CACHE_SEARCH_TTL_SECONDS,
      staleTtlSeconds: e.CACHE_STALE_TTL_SECONDS,
      documentTtlSeconds: e.CACHE_DOCUMENT_TTL_SECONDS,
      apqTtlSeconds: e.APQ_TTL_SECONDS,
    },
    resilience: {
      timeoutMs: e.RESILIENCE_TIMEOUT_MS,
      failureThreshold: e.BREAKER_FAILURE_THRESHOLD,
      halfOpenAfterMs: e.BREAKER_HALF_OPEN_AFTER_MS,
      readAttempts: e.RETRY_MAX_ATTEMPTS,
      retryInitialDelayMs: e.RETRY_INITIAL_DELAY_MS,
    },
    rateLimit: { tiers: e.RATE_LIMIT_TIERS, fallbackFraction: e.RATE_LIMIT_FALLBACK_FRACTION },
  };
}

export type QuarryConfig = ReturnType<typeof loadConfig>;
export type JwtConfig = QuarryConfig['jwt'];

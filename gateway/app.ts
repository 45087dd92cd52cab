import { createServiceVerifier } from '../server/auth/cached-verifier.ts';
import { identityProviderHealth } from '../server/auth/identity-provider-health.ts';
import type { JwtVerifier } from '../server/auth/jwt-verifier.ts';
import { type Cache, createKeyValueCache, openCache } from '../server/cache/index.ts';
import type { GatewayConfig } from '../server/config.ts';
import { redisHealth } from '../server/http/health.ts';
import { serverTlsFrom, subgraphClientTlsFrom } from '../server/http/tls.ts';
import type { Logger } from '../server/logger.ts';
import type { OperationalEvents } from '../server/observability/events.ts';
import { createMetrics, type ServiceMetrics } from '../server/observability/metrics.ts';
import {
  createMemoryRateLimitStore,
  createRedisRateLimitStore,
  type RateLimitStore,
  withLeases,
  withLocalFallback,
} from '../server/rate-limit/index.ts';
import { resilienceFromConfig } from '../server/resilience/index.ts';
import { namingPortVariable } from '../server/startup-error.ts';
import type { ExplorerOptions } from './explorer/explorer.ts';
import { type RunningGateway, startGateway } from './server.ts';

export interface GatewayAppOptions {
  config: GatewayConfig;
  logger: Logger;
  verifier?: JwtVerifier;
  /** Overrides the configured subgraph URLs (the stack knows them only once the subgraphs listen). */
  subgraphUrls?: Record<string, string>;
  /** The in-process cache to use without REDIS_URL. */
  memoryCache?: Cache;
  /** Default: a fresh registry configured from `config.metrics`. */
  metrics?: ServiceMetrics;
  /** Where caches, breakers, retries and rate limits report; default the gateway's metrics. */
  events?: OperationalEvents;
  /** The development explorer's options (a demo token); the explorer is off in production regardless. */
  explorer?: ExplorerOptions;
}

/**
 * The gateway wired from configuration. With REDIS_URL, APQ and the rate
 * limiter share Redis across replicas; the limiter falls back to a stricter
 * in-process limit while Redis is down. Without it, both live in process.
 */
export async function startGatewayApp({
  config,
  logger,
  verifier,
  subgraphUrls,
  memoryCache,
  metrics = createMetrics({ service: 'gateway', ...config.metrics }),
  events = metrics.events,
  explorer,
}: GatewayAppOptions): Promise<RunningGateway> {
  const resilience = resilienceFromConfig(config, events);
  const cache = openCache(config.cache, resilience, logger, memoryCache);
  const local = createMemoryRateLimitStore();
  const store: RateLimitStore = cache.redis
    ? withLocalFallback({
        primary: withLeases({
          store: createRedisRateLimitStore({ redis: cache.redis }),
          policy: resilience.policy('redis'),
          leaseMs: config.rateLimit.leaseMs,
        }),
        fallback: local,
        fraction: config.rateLimit.fallbackFraction,
      })
    : local;
  const authenticator = verifier ?? (await createServiceVerifier(config.jwt, logger));
  const gateway = await namingPortVariable(
    'PORT',
    startGateway({
      ...config.gateway,
      subgraphUrls: subgraphUrls ?? config.gateway.subgraphUrls,
      verifier: authenticator,
      logger,
      production: config.production,
      explorer,
      host: config.host,
      operations: config.metrics.listener,
      metrics,
      tls: serverTlsFrom(config),
      subgraphClientTls: subgraphClientTlsFrom(config),
      resilience,
      rateLimit: {
        store,
        tiers: config.rateLimit.tiers,
        events,
        hold: config.rateLimit.refusalHold,
      },
      responseCache:
        config.cache.responseTtlSeconds > 0
          ? {
              cache: cache.cache,
              ttlSeconds: config.cache.responseTtlSeconds,
              refreshSeconds: config.cache.responseRefreshSeconds,
              // Kept ready to send: with Redis that saves the round trip; without it, decoding the entry
              // and encoding its body again on every hit, which made a hit twice as expensive.
              nearMaxBytes: config.cache.responseNearMaxBytes,
              maxEntryBytes: config.cache.responseMaxEntryBytes,
              events,
            }
          : undefined,
      entityCache:
        config.cache.entityTtlSeconds > 0
          ? {
              cache: cache.cache,
              ttlSeconds: config.cache.entityTtlSeconds,
              maxEntryBytes: config.cache.entityMaxEntryBytes,
              events,
            }
          : undefined,
      apqCache: createKeyValueCache(cache.cache),
      apqTtlSeconds: config.cache.apqTtlSeconds,
      health: {
        redis: redisHealth(resilience, cache),
        identityProvider: identityProviderHealth(authenticator),
      },
    }),
  );
  return {
    ...gateway,
    async stop() {
      await gateway.stop();
      await cache.close();
    },
  };
}

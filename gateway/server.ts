import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { ApolloGateway } from '@apollo/gateway';
import type { QueryPlanCache } from '@apollo/query-planner';
import { ApolloServer } from '@apollo/server';
import { InMemoryLRUCache } from '@apollo/utils.keyvaluecache';
import { authenticate, type JwtVerifier } from '../server/auth/jwt-verifier.ts';
import { type Cache, responseGenerationKey } from '../server/cache/cache.ts';
import { createGenerationBumps, type GenerationBumps } from '../server/cache/generation-bumps.ts';
import type { StringKeyValueCache } from '../server/cache/key-value-cache.ts';
import { createErrorFormatter } from '../server/errors.ts';
import { useCors } from '../server/http/cors.ts';
import { type DependencyHealth, healthRoutes } from '../server/http/health.ts';
import {
  createHttpServer,
  type HttpTimeouts,
  type ListeningServer,
  listen,
  type RouteHandler,
} from '../server/http/http-server.ts';
import { type OperationsListener, splitOperationsRoutes } from '../server/http/operations-server.ts';
import type { ClientTls, ServerTls } from '../server/http/tls.ts';
import type { Logger } from '../server/logger.ts';
import type { OperationalEvents } from '../server/observability/events.ts';
import { createMetrics, type ServiceMetrics } from '../server/observability/metrics.ts';
import type { Resilience } from '../server/resilience/policy.ts';
import { createTenantBulkheads, type TenantBulkheadOptions } from '../server/resilience/tenant-bulkheads.ts';
import { type AdmissionCheck, gatewayAdmission, type RateLimitOptions } from './admission/index.ts';
import type { GatewayContext } from './context.ts';
import { createEntityCache, type EntityCache } from './entity-cache/entity-cache.ts';
import { withEntityCache } from './entity-cache/entity-cache-data-source.ts';
import { withExecutionDeadline } from './execution-deadline.ts';
import { type ExplorerOptions, useExplorer } from './explorer/explorer.ts';
import type { PersistedOperation } from './persisted-operations/manifest.ts';
import { manifestValidation } from './persisted-operations/manifest-validation.ts';
import { createFileOperationStore, type PersistedOperationStore } from './persisted-operations/store.ts';
import type { OperationLimits } from './plugins/operation-limits.ts';
import {
  apolloApqCache,
  type PersistedOperationsOptions,
  persistedDocumentStore,
} from './plugins/persisted-operations.ts';
import { gatewayPlugins, gatewayValidationRules } from './plugins.ts';
import { createQueryPlanCache, warmQueryPlans } from './query-plan-warming.ts';
import {
  createResponseCache,
  deploymentFingerprint,
  type ResponseCache,
  type ResponseCacheOptions,
} from './response-cache/response-cache.ts';
import { createResponseCacheShortcut } from './response-cache/response-cache-shortcut.ts';
import { withResponseSizeLimit } from './response-size.ts';
import { createSubgraphAgent, SubgraphDataSource } from './subgraph-data-source.ts';

export interface GatewayOptions {
  supergraphPath: string;
  /** Where each subgraph really is; overrides the URLs recorded in the supergraph. */
  subgraphUrls: Record<string, string>;
  subgraphTimeoutMs: number;
  subgraphMaxSockets: number;
  /** Request bodies above this get 413. */
  maxBodyBytes: number;
  /** Request bodies buffered at once, over all connections; past it, 503. */
  maxBufferedBodyBytes: number;
  /** Each tenant's operations in flight at once, and waiting; past it, 429 RATE_LIMITED. */
  tenantBulkhead: Omit<TenantBulkheadOptions, 'dependency'>;
  httpTimeouts: HttpTimeouts;
  /** Responses, and each subgraph answer read for one, above this are refused with RESPONSE_TOO_LARGE. */
  maxResponseBytes: number;
  /** Deadline for one operation's whole execution. */
  executionTimeoutMs: number;
  limits: OperationLimits;
  persistedOperations: { manifestPath: string; reloadIntervalMs: number; partnerClients: readonly string[] };
  /** HTTPS for clients (TLS_CERT/TLS_KEY). */
  tls?: ServerTls;
  /** TLS, and the client certificate for mTLS, towards the subgraphs. */
  subgraphClientTls?: ClientTls;
  verifier: JwtVerifier;
  logger: Logger;
  production: boolean;
  port: number;
  host: string;
  /** Where `/metrics` is served instead of the client port (METRICS_PORT); see `splitOperationsRoutes`. */
  operations?: OperationsListener;
  /** Served at `/metrics`. Default: a fresh registry with default label limits. */
  metrics?: ServiceMetrics;
  /** Breakers for `subgraph:<name>` (and `redis`, when the caller put the cache under it). */
  resilience: Resilience;
  rateLimit: RateLimitOptions;
  /** Whole query responses per tenant; off when absent. The gateway makes the bumps it shares with the entity cache. */
  responseCache?: Omit<ResponseCacheOptions, 'bumps' | 'deployment'>;
  /** `Document` entities fetched from the documents subgraph, per tenant; off when absent. */
  entityCache?: EntityCacheSettings;
  /** Where automatic persisted queries are kept, under per-tenant keys; in process when absent. */
  apqCache?: StringKeyValueCache;
  apqTtlSeconds?: number;
  /** Origins whose browser pages may call the API (CORS_ORIGINS); default none. */
  corsOrigins?: readonly string[];
  /** The explorer at GET /graphql, outside production. */
  explorer?: ExplorerOptions;
  /** Extra readiness entries (Redis); the subgraphs are added here. */
  health?: Record<string, DependencyHealth>;
}

export interface EntityCacheSettings {
  /** The same cache as the response cache's, whose per-tenant generations both key on. */
  cache: Cache;
  ttlSeconds: number;
  maxEntryBytes: number;
  events?: OperationalEvents;
}

/** The entity type the entity cache holds, and the subgraph that owns it. */
const cachedEntities = { subgraph: 'documents', typename: 'Document' };

export interface RunningGateway extends ListeningServer {
  metrics: ServiceMetrics;
  /** Where `/metrics` and the health routes are served apart from clients, when METRICS_PORT is set. */
  operationsUrl?: string;
  stop(): Promise<void>;
}

export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const metrics = options.metrics ?? createMetrics({ service: 'gateway' });
  const agent = createSubgraphAgent(options.subgraphMaxSockets, options.subgraphClientTls);
  const supergraphSdl = await readFile(options.supergraphPath, 'utf8');
  const responseGenerations = buildResponseGenerations(options);
  const entityCache =
    options.entityCache &&
    responseGenerations &&
    createEntityCache({ ...options.entityCache, bumps: responseGenerations });
  const queryPlans = createQueryPlanCache();
  const gateway = buildApolloGateway(options, { supergraphSdl, agent, entityCache, queryPlans });
  const warmPlans = (operations: Iterable<PersistedOperation>) =>
    warmPersistedOperationPlans(options, { supergraphSdl, operations, queryPlans });
  const { operationStore, persistedOperations } = buildPersistedOperations(options, supergraphSdl, warmPlans);
  const responseCache = buildResponseCache(options, supergraphSdl, responseGenerations);
  const admission = gatewayAdmission({ persistedOperations, rateLimit: options.rateLimit });
  const explorer = options.production ? undefined : useExplorer<GatewayContext>(options.explorer);
  const apollo = buildApolloServer(options, {
    gateway,
    operationStore,
    persistedOperations,
    responseCache,
    responseGenerations,
    admission,
    explorer,
    metrics,
  });
  await apollo.start();
  await warmPlans(operationStore.operations());
  const operations = await splitOperationsRoutes({
    health: healthRoutes({ ...subgraphHealth(options), ...options.health }),
    metrics: metrics.routes(),
    listener: options.operations,
    logger: options.logger,
  });
  const server = buildHttpServer(options, {
    apollo,
    routes: { ...operations.clientRoutes, ...explorer?.routes },
    responseCache,
    operationStore,
    admission,
    metrics,
  });
  const listening = await listen(server, options.port, options.host);
  return {
    ...listening,
    metrics,
    operationsUrl: operations.url,
    async stop() {
      // Long enough for a request that started just before to reach its execution deadline and answer.
      await listening.close(options.executionTimeoutMs + 1000);
      await apollo.stop();
      responseGenerations?.stop();
      operationStore.close();
      await agent.close();
      await operations.stop();
    },
  };
}

/** Readiness entries for the subgraphs: each reports its breaker. */
function subgraphHealth(options: GatewayOptions): Record<string, DependencyHealth> {
  const health: Record<string, DependencyHealth> = {};
  for (const name of Object.keys(options.subgraphUrls)) {
    const dependency = `subgraph:${name}`;
    health[dependency] = {
      // Not required: with one subgraph down the gateway still answers from the other (partial data).
      required: false,
      async check() {
        const breaker = options.resilience.policy(dependency).state();
        return { ok: breaker !== 'open', detail: { breaker } };
      },
    };
  }
  return health;
}

/**
 * The bumps of the tenants' response generation, which the response cache
 * and the entity cache key on, shared so one bump after a write ends both.
 */
function buildResponseGenerations(options: GatewayOptions): GenerationBumps | undefined {
  const cache = options.responseCache?.cache ?? options.entityCache?.cache;
  return cache && createGenerationBumps({ cache, key: responseGenerationKey });
}

/** The query planner and executor, calling each subgraph through its breaker (and the entity cache). */
function buildApolloGateway(
  options: GatewayOptions,
  {
    supergraphSdl,
    agent,
    entityCache,
    queryPlans,
  }: {
    supergraphSdl: string;
    agent: ReturnType<typeof createSubgraphAgent>;
    entityCache: EntityCache | undefined;
    queryPlans: QueryPlanCache;
  },
): ApolloGateway {
  // @apollo/gateway otherwise pushes usage metrics to Apollo's servers. It reads only this variable
  // (in its constructor), so it is set here, the one place a gateway is built, rather than trusted to
  // every deployment's environment.
  process.env.APOLLO_TELEMETRY_DISABLED = 'true';
  return new ApolloGateway({
    supergraphSdl,
    buildService: ({ name, url }) => {
      const subgraphUrl = options.subgraphUrls[name] ?? url;
      if (!subgraphUrl) throw new Error(`No URL configured for subgraph "${name}"`);
      const source = new SubgraphDataSource({
        name,
        url: subgraphUrl,
        agent,
        timeoutMs: options.subgraphTimeoutMs,
        policy: options.resilience.policy(`subgraph:${name}`),
        maxResponseBytes: options.maxResponseBytes,
      });
      return entityCache && name === cachedEntities.subgraph
        ? withEntityCache(source, { entityCache, typename: cachedEntities.typename })
        : source;
    },
    logger: options.logger,
    // Given rather than the gateway's own, so that the persisted operations' plans can be put in it at start.
    queryPlannerConfig: { cache: queryPlans },
    // gateway.request, .plan, .fetch spans go to whatever tracer provider is registered (none: no-ops).
    // The operation document stays out of spans: literals in it can be document text.
    telemetry: { includeDocument: false, recordExceptions: false },
  });
}

/**
 * Plans persisted operations (the manifest's once the gateway has loaded its
 * supergraph, and those a reload adds), so no persisted operation's first
 * request waits for its plan. An optimisation only: if it fails, each is
 * planned on its first request.
 */
async function warmPersistedOperationPlans(
  options: GatewayOptions,
  parts: { supergraphSdl: string; operations: Iterable<PersistedOperation>; queryPlans: QueryPlanCache },
): Promise<void> {
  try {
    const planned = await warmQueryPlans({
      supergraphSdl: parts.supergraphSdl,
      operations: parts.operations,
      cache: parts.queryPlans,
    });
    options.logger.info({ operations: planned }, 'query plans of the persisted operations warmed');
  } catch (error) {
    options.logger.warn({ err: error }, 'query plans of the persisted operations not warmed');
  }
}

/** The safelisted operations from the manifest, and where automatic persisted queries are kept. */
function buildPersistedOperations(
  options: GatewayOptions,
  supergraphSdl: string,
  warmPlans: (added: PersistedOperation[]) => Promise<void>,
): { operationStore: PersistedOperationStore; persistedOperations: PersistedOperationsOptions } {
  const operationStore = createFileOperationStore({
    path: options.persistedOperations.manifestPath,
    reloadIntervalMs: options.persistedOperations.reloadIntervalMs,
    onReload: (added) => {
      if (added.length > 0) void warmPlans(added);
    },
    ...manifestValidation(supergraphSdl, options.limits),
    logger: options.logger,
  });
  const persistedOperations = {
    store: operationStore,
    partnerClients: options.persistedOperations.partnerClients,
    apq: {
      cache: options.apqCache ?? new InMemoryLRUCache<string>(),
      ttlSeconds: options.apqTtlSeconds ?? 86_400,
    },
  };
  return { operationStore, persistedOperations };
}

/** Whole responses per tenant, keyed also by this deployment's supergraph and validation rules. */
function buildResponseCache(
  options: GatewayOptions,
  supergraphSdl: string,
  bumps: GenerationBumps | undefined,
): ResponseCache | undefined {
  return (
    options.responseCache &&
    bumps &&
    createResponseCache({
      ...options.responseCache,
      bumps,
      deployment: deploymentFingerprint({
        supergraphSdl,
        validation: { production: options.production, limits: options.limits },
      }),
    })
  );
}

function buildApolloServer(
  options: GatewayOptions,
  parts: {
    gateway: ApolloGateway;
    operationStore: PersistedOperationStore;
    persistedOperations: PersistedOperationsOptions;
    responseCache: ResponseCache | undefined;
    responseGenerations: GenerationBumps | undefined;
    admission: AdmissionCheck[];
    explorer: ReturnType<typeof useExplorer<GatewayContext>> | undefined;
    metrics: ServiceMetrics;
  },
): ApolloServer<GatewayContext> {
  return new ApolloServer<GatewayContext>({
    gateway: withResponseSizeLimit(
      withExecutionDeadline(parts.gateway, { timeoutMs: options.executionTimeoutMs }),
    ),
    documentStore: persistedDocumentStore(parts.operationStore),
    introspection: !options.production,
    includeStacktraceInErrorResponses: false,
    // Also drops "Did you mean …?" field suggestions from validation errors.
    hideSchemaDetailsFromClientErrors: options.production,
    formatError: createErrorFormatter(options.logger, { hideSuggestions: options.production }),
    // runMain owns SIGTERM: it drains HTTP, stops Apollo, then flushes traces. Apollo's own handler
    // would race it, and the process never exits.
    stopOnTerminationSignals: false,
    // Stated although they are Apollo's defaults, because the security model relies on them:
    // `text/plain` and other simple-request POSTs, and GETs without a preflight header, are refused,
    // and a JSON array of operations is one request, not a batch.
    csrfPrevention: true,
    allowBatchedHttpRequests: false,
    validationRules: gatewayValidationRules({ production: options.production, limits: options.limits }),
    plugins: gatewayPlugins({
      production: options.production,
      explorer: parts.explorer?.plugin,
      logger: options.logger,
      metrics: parts.metrics,
      limits: options.limits,
      admission: parts.admission,
      responseCache: parts.responseCache,
      responseGenerations: parts.responseGenerations,
      persistedOperations: parts.persistedOperations,
    }),
    // Registered and looked up per tenant by usePersistedOperations; Apollo only checks a registration's hash.
    persistedQueries: { cache: apolloApqCache, ttl: null },
    logger: options.logger,
  });
}

/** The client-facing HTTP server: authentication per request, and response-cache hits answered before Apollo. */
function buildHttpServer(
  options: GatewayOptions,
  parts: {
    apollo: ApolloServer<GatewayContext>;
    routes: Record<string, RouteHandler>;
    responseCache: ResponseCache | undefined;
    operationStore: PersistedOperationStore;
    admission: AdmissionCheck[];
    metrics: ServiceMetrics;
  },
) {
  return createHttpServer<GatewayContext>({
    apollo: parts.apollo,
    logger: options.logger,
    routes: parts.routes,
    maxBodyBytes: options.maxBodyBytes,
    maxResponseBytes: options.maxResponseBytes,
    maxBufferedBodyBytes: options.maxBufferedBodyBytes,
    callerBulkheads: {
      executions: createTenantBulkheads({ dependency: 'gateway', ...options.tenantBulkhead }),
      // The same share again for reading small bodies and looking them up in the response cache.
      shortcuts: createTenantBulkheads({ dependency: 'gateway', ...options.tenantBulkhead }),
      callerOf: (context) => context.principal.tenantId,
    },
    timeouts: options.httpTimeouts,
    tls: options.tls,
    cors: useCors({ allowedOrigins: options.corsOrigins }),
    context: async (request: IncomingMessage, clientGone: AbortSignal) => ({
      principal: await authenticate(options.verifier, request.headers.authorization),
      clientGone,
    }),
    onAnswered: (context, body) => context.responseToKeep?.keep?.(body),
    shortcut:
      parts.responseCache &&
      createResponseCacheShortcut({
        responseCache: parts.responseCache,
        operationStore: parts.operationStore,
        admission: parts.admission,
        metrics: parts.metrics,
        logger: options.logger,
      }),
  });
}

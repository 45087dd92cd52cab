import { resolve } from 'node:path';
import { z } from 'zod';
import { responseCacheMaxEntryBytes } from './cache.ts';
import { defineConcern } from './concern.ts';
import { searchMaxFirst } from './search.ts';
import { list, port, positiveInt } from './variables.ts';

/** A browser origin, or any port of one host: `https://app.example.com`, `http://localhost:*`. */
const origin = z
  .string()
  .regex(
    /^https?:\/\/(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:(\d{1,5}|\*))?$/i,
    'each origin is scheme://host[:port] with no path, such as https://app.example.com or http://localhost:*',
  );

/** Outside production, pages on this machine may call the API on any port (a front end's dev server). */
const developmentCorsOrigins = ['http://localhost:*', 'http://127.0.0.1:*', 'http://[::1]:*'];

/** The gateway: port, subgraphs, CORS, request and response bounds, operation limits, persisted operations. */
export const gatewayConcern = defineConcern({
  shape: {
    PORT: port(4000),
    DOCUMENTS_URL: z.url().default('http://127.0.0.1:4001/graphql'),
    SEARCH_URL: z.url().default('http://127.0.0.1:4002/graphql'),
    SUPERGRAPH_PATH: z.string().min(1).default('schema/supergraph.graphql'),
    CORS_ORIGINS: list.pipe(z.array(origin)).optional(),
    SUBGRAPH_TIMEOUT_MS: positiveInt(5000),
    SUBGRAPH_MAX_SOCKETS: positiveInt(64),
    GATEWAY_TENANT_CONCURRENCY: positiveInt(4),
    GATEWAY_TENANT_QUEUE: z.coerce.number().int().min(0).default(64),
    GATEWAY_QUEUE_TIMEOUT_MS: positiveInt(5000),
    SUBGRAPH_TLS_CA: z.string().min(1).optional(),
    SUBGRAPH_TLS_CERT: z.string().min(1).optional(),
    SUBGRAPH_TLS_KEY: z.string().min(1).optional(),
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
    // Owned by the search and cache concerns; the gateway checks against them.
    SEARCH_MAX_FIRST: searchMaxFirst,
    RESPONSE_CACHE_MAX_ENTRY_BYTES: responseCacheMaxEntryBytes,
  },
  check(env, context) {
    if (Boolean(env.SUBGRAPH_TLS_CERT) !== Boolean(env.SUBGRAPH_TLS_KEY)) {
      context.addIssue({
        code: 'custom',
        path: [env.SUBGRAPH_TLS_CERT ? 'SUBGRAPH_TLS_KEY' : 'SUBGRAPH_TLS_CERT'],
        message: 'SUBGRAPH_TLS_CERT and SUBGRAPH_TLS_KEY go together: set both or neither',
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
  },
  section: (env, production) => ({
    gateway: {
      port: env.PORT,
      corsOrigins: env.CORS_ORIGINS ?? (production ? [] : developmentCorsOrigins),
      supergraphPath: resolve(env.SUPERGRAPH_PATH),
      subgraphUrls: { documents: env.DOCUMENTS_URL, search: env.SEARCH_URL } as Record<string, string>,
      subgraphTimeoutMs: env.SUBGRAPH_TIMEOUT_MS,
      subgraphMaxSockets: env.SUBGRAPH_MAX_SOCKETS,
      maxBodyBytes: env.MAX_REQUEST_BODY_BYTES,
      maxResponseBytes: env.MAX_RESPONSE_BYTES,
      maxBufferedBodyBytes: env.MAX_BUFFERED_BODY_BYTES,
      /** Each tenant's share of the gateway: operations in flight, and how many may wait for a slot. */
      tenantBulkhead: {
        concurrency: env.GATEWAY_TENANT_CONCURRENCY,
        queue: env.GATEWAY_TENANT_QUEUE,
        queueTimeoutMs: env.GATEWAY_QUEUE_TIMEOUT_MS,
      },
      httpTimeouts: {
        headersMs: env.HTTP_HEADERS_TIMEOUT_MS,
        requestMs: env.HTTP_REQUEST_TIMEOUT_MS,
        keepAliveMs: env.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      },
      executionTimeoutMs: env.EXECUTION_TIMEOUT_MS,
      limits: {
        maxDepth: env.LIMIT_MAX_DEPTH,
        maxAliases: env.LIMIT_MAX_ALIASES,
        maxTokens: env.LIMIT_MAX_TOKENS,
        maxDirectives: env.LIMIT_MAX_DIRECTIVES,
        maxCost: env.LIMIT_MAX_COST,
        // The gateway refuses a `first` the search subgraph would refuse, without calling it.
        maxFirst: env.SEARCH_MAX_FIRST,
      },
      persistedOperations: {
        manifestPath: resolve(env.PERSISTED_QUERY_MANIFEST),
        reloadIntervalMs: env.PERSISTED_QUERY_RELOAD_MS,
        partnerClients: env.PARTNER_CLIENTS,
      },
      /** Client side of mTLS to the subgraphs: the CA that signs their certificates, and ours. */
      subgraphTls: {
        caPath: env.SUBGRAPH_TLS_CA,
        certPath: env.SUBGRAPH_TLS_CERT,
        keyPath: env.SUBGRAPH_TLS_KEY,
      },
    },
  }),
});

export type GatewaySection = ReturnType<typeof gatewayConcern.section>;

import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { authenticate, type JwtVerifier } from '../server/auth/jwt-verifier.ts';
import type { StringKeyValueCache } from '../server/cache/key-value-cache.ts';
import { createErrorFormatter } from '../server/errors.ts';
import { type DependencyHealth, healthRoutes } from '../server/http/health.ts';
import { createHttpServer, type ListeningServer, listen } from '../server/http/http-server.ts';
import type { Logger } from '../server/logger.ts';
import type { Resilience } from '../server/resilience/policy.ts';
import type { GatewayContext } from './context.ts';
import type { RateLimitOptions } from './plugins/rate-limit.ts';
import { gatewayPlugins } from './plugins.ts';
import { createSubgraphAgent, SubgraphDataSource } from './subgraph-data-source.ts';

export interface GatewayOptions {
  supergraphPath: string;
  /** Where each subgraph really is; overrides the URLs recorded in the supergraph. */
  subgraphUrls: Record<string, string>;
  subgraphTimeoutMs: number;
  subgraphMaxSockets: number;
  verifier: JwtVerifier;
  logger: Logger;
  production: boolean;
  port: number;
  host: string;
  /** Breakers for `subgraph:<name>` (and `redis`, when the caller put the cache under it). */
  resilience: Resilience;
  rateLimit: RateLimitOptions;
  /** Where automatic persisted queries are kept; Apollo's in-memory cache when absent. */
  apqCache?: StringKeyValueCache;
  apqTtlSeconds?: number;
  /** Extra readiness entries (Redis); the subgraphs are added here. */
  health?: Record<string, DependencyHealth>;
}

export interface RunningGateway extends ListeningServer {
  stop(): Promise<void>;
}

export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const agent = createSubgraphAgent(options.subgraphMaxSockets);
  const subgraphHealth: Record<string, DependencyHealth> = {};
  for (const name of Object.keys(options.subgraphUrls)) {
    const dependency = `subgraph:${name}`;
    subgraphHealth[dependency] = {
      // Not required: with one subgraph down the gateway still answers from the other (partial data).
      required: false,
      async check() {
        const breaker = options.resilience.policy(dependency).state();
        return { ok: breaker !== 'open', detail: { breaker } };
      },
    };
  }
  const gateway = new ApolloGateway({
    supergraphSdl: await readFile(options.supergraphPath, 'utf8'),
    buildService: ({ name, url }) => {
      const subgraphUrl = options.subgraphUrls[name] ?? url;
      if (!subgraphUrl) throw new Error(`No URL configured for subgraph "${name}"`);
      return new SubgraphDataSource({
        name,
        url: subgraphUrl,
        agent,
        timeoutMs: options.subgraphTimeoutMs,
        policy: options.resilience.policy(`subgraph:${name}`),
      });
    },
    logger: options.logger,
  });
  const apollo = new ApolloServer<GatewayContext>({
    gateway,
    introspection: !options.production,
    includeStacktraceInErrorResponses: false,
    hideSchemaDetailsFromClientErrors: options.production,
    formatError: createErrorFormatter(options.logger),
    plugins: gatewayPlugins({ production: options.production, rateLimit: options.rateLimit }),
    persistedQueries: options.apqCache
      ? { cache: options.apqCache, ttl: options.apqTtlSeconds ?? 86_400 }
      : undefined,
    // runMain owns SIGTERM/SIGINT and drains everything in order (then closes Redis); Apollo's own
    // handler would stop the server underneath it, and the process then never exits.
    stopOnTerminationSignals: false,
    logger: options.logger,
  });
  await apollo.start();
  const server = createHttpServer<GatewayContext>({
    apollo,
    logger: options.logger,
    routes: healthRoutes({ ...subgraphHealth, ...options.health }),
    context: async (request: IncomingMessage) => ({
      principal: await authenticate(options.verifier, request.headers.authorization),
    }),
  });
  const listening = await listen(server, options.port, options.host);
  return {
    ...listening,
    async stop() {
      await listening.close();
      await apollo.stop();
      await agent.close();
    },
  };
}

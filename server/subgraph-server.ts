import type { IncomingMessage } from 'node:http';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import {
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { buildSubgraphSchema, type GraphQLResolverMap } from '@apollo/subgraph';
import type { DocumentNode } from 'graphql';
import { authenticate, type JwtVerifier, type Principal } from './auth/jwt-verifier.ts';
import { useOperationScope } from './auth/operation-scope-plugin.ts';
import { createErrorFormatter } from './errors.ts';
import { type DependencyHealth, healthRoutes } from './http/health.ts';
import { createHttpServer, type ListeningServer, listen } from './http/http-server.ts';
import { type OperationsListener, splitOperationsRoutes } from './http/operations-server.ts';
import type { ServerTls } from './http/tls.ts';
import type { Logger } from './logger.ts';
import type { ServiceMetrics } from './observability/metrics.ts';
import { useMetrics } from './observability/use-metrics.ts';
import { useRequestLog } from './observability/use-request-log.ts';
import { useSpanAttributes } from './observability/use-span-attributes.ts';

export interface SubgraphContext {
  principal: Principal;
  /** Aborts when the caller (the gateway) stops waiting: resolvers pass it to the ports' reads. */
  signal?: AbortSignal;
}

export interface SubgraphServerOptions<TContext extends SubgraphContext> {
  typeDefs: DocumentNode;
  // biome-ignore lint/suspicious/noExplicitAny: resolver maps are typed by their own modules
  resolvers: GraphQLResolverMap<any>;
  verifier: JwtVerifier;
  /** Builds per-request state (DataLoaders and the like) for a verified caller; `signal` aborts when it leaves. */
  createContext(principal: Principal, signal: AbortSignal): TContext;
  logger: Logger;
  production: boolean;
  port: number;
  host: string;
  /** What readiness reports at `/health/ready`; see `healthRoutes`. */
  health?: Record<string, DependencyHealth>;
  /** Where `/metrics` is served instead of the client port (METRICS_PORT); see `splitOperationsRoutes`. */
  operations?: OperationsListener;
  plugins?: ApolloServerPlugin<TContext>[];
  /** The service's registry and counters; served at `/metrics`. */
  metrics: ServiceMetrics;
  /** HTTPS, and with `clientCa` mutual TLS: only the gateway's certificate gets a connection. */
  tls?: ServerTls;
}

/** What every subgraph service takes from its app, beside its own port. */
export type SubgraphHostOptions = Pick<
  SubgraphServerOptions<SubgraphContext>,
  'verifier' | 'logger' | 'production' | 'port' | 'host' | 'metrics' | 'tls' | 'health' | 'operations'
>;

export interface RunningSubgraph extends ListeningServer {
  /** Where `/metrics` and the health routes are served apart from clients, when METRICS_PORT is set. */
  operationsUrl?: string;
  stop(): Promise<void>;
}

/**
 * One subgraph service: the federated schema, a context that exists only for
 * a verified token (so `_entities` and `_service` answer nothing without one),
 * and the shared HTTP integration.
 */
export async function startSubgraphServer<TContext extends SubgraphContext>(
  options: SubgraphServerOptions<TContext>,
): Promise<RunningSubgraph> {
  const apollo = new ApolloServer<TContext>({
    schema: buildSubgraphSchema([{ typeDefs: options.typeDefs, resolvers: options.resolvers }]),
    introspection: !options.production,
    includeStacktraceInErrorResponses: false,
    hideSchemaDetailsFromClientErrors: options.production,
    formatError: createErrorFormatter(options.logger),
    // runMain owns SIGTERM: it drains HTTP, stops Apollo, then flushes traces. Apollo's own handler
    // would race it, and the process never exits.
    stopOnTerminationSignals: false,
    plugins: [
      ApolloServerPluginLandingPageDisabled(),
      // Federated tracing (ftv1) only feeds Apollo's hosted usage reporting, which Quarry never sends to.
      ApolloServerPluginInlineTraceDisabled(),
      // Observers first, so requests that later plugins refuse are still logged and counted.
      useRequestLog<TContext>({ logger: options.logger }),
      useMetrics<TContext>({ metrics: options.metrics }),
      useSpanAttributes<TContext>(),
      useOperationScope<TContext>(),
      ...(options.plugins ?? []),
    ],
    logger: options.logger,
  });
  await apollo.start();
  const operations = await splitOperationsRoutes({
    health: healthRoutes(options.health),
    metrics: options.metrics.routes(),
    listener: options.operations,
    logger: options.logger,
  });
  const server = createHttpServer<TContext>({
    apollo,
    logger: options.logger,
    routes: operations.clientRoutes,
    tls: options.tls,
    context: async (request: IncomingMessage, clientGone: AbortSignal) =>
      options.createContext(await authenticate(options.verifier, request.headers.authorization), clientGone),
  });
  const listening = await listen(server, options.port, options.host);
  return {
    ...listening,
    operationsUrl: operations.url,
    async stop() {
      await listening.close();
      await apollo.stop();
      await operations.stop();
    },
  };
}

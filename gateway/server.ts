import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { authenticate, type JwtVerifier } from '../server/auth/jwt-verifier.ts';
import { createErrorFormatter } from '../server/errors.ts';
import { healthRoutes } from '../server/http/health.ts';
import { createHttpServer, type ListeningServer, listen } from '../server/http/http-server.ts';
import type { Logger } from '../server/logger.ts';
import { createMetrics, type ServiceMetrics } from '../server/observability/metrics.ts';
import type { GatewayContext } from './context.ts';
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
  /** Served at `/metrics`. Default: a fresh registry with default label limits. */
  metrics?: ServiceMetrics;
}

export interface RunningGateway extends ListeningServer {
  metrics: ServiceMetrics;
  stop(): Promise<void>;
}

export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const metrics = options.metrics ?? createMetrics({ service: 'gateway' });
  // @apollo/gateway otherwise pushes usage metrics to Apollo's servers. It reads only this variable
  // (in its constructor), so it is set here, the one place a gateway is built, rather than trusted to
  // every deployment's environment.
  process.env.APOLLO_TELEMETRY_DISABLED = 'true';
  const agent = createSubgraphAgent(options.subgraphMaxSockets);
  const gateway = new ApolloGateway({
    supergraphSdl: await readFile(options.supergraphPath, 'utf8'),
    buildService: ({ name, url }) => {
      const subgraphUrl = options.subgraphUrls[name] ?? url;
      if (!subgraphUrl) throw new Error(`No URL configured for subgraph "${name}"`);
      return new SubgraphDataSource({ name, url: subgraphUrl, agent, timeoutMs: options.subgraphTimeoutMs });
    },
    logger: options.logger,
    // gateway.request, .plan, .fetch spans go to whatever tracer provider is registered (none: no-ops).
    // The operation document stays out of spans: literals in it can be document text.
    telemetry: { includeDocument: false, recordExceptions: false },
  });
  const apollo = new ApolloServer<GatewayContext>({
    gateway,
    introspection: !options.production,
    includeStacktraceInErrorResponses: false,
    hideSchemaDetailsFromClientErrors: options.production,
    formatError: createErrorFormatter(options.logger),
    // runMain owns SIGTERM: it drains HTTP, stops Apollo, then flushes traces. Apollo's own handler
    // would race it, and the process never exits.
    stopOnTerminationSignals: false,
    plugins: gatewayPlugins({ production: options.production, logger: options.logger, metrics }),
    logger: options.logger,
  });
  await apollo.start();
  const server = createHttpServer<GatewayContext>({
    apollo,
    logger: options.logger,
    routes: { ...healthRoutes(), ...metrics.routes() },
    context: async (request: IncomingMessage) => ({
      principal: await authenticate(options.verifier, request.headers.authorization),
    }),
  });
  const listening = await listen(server, options.port, options.host);
  return {
    ...listening,
    metrics,
    async stop() {
      await listening.close();
      await apollo.stop();
      await agent.close();
    },
  };
}

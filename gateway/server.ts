import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { authenticate, type JwtVerifier } from '../server/auth/jwt-verifier.ts';
import { createErrorFormatter } from '../server/errors.ts';
import { healthRoutes } from '../server/http/health.ts';
import { createHttpServer, type ListeningServer, listen } from '../server/http/http-server.ts';
import type { Logger } from '../server/logger.ts';
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
}

export interface RunningGateway extends ListeningServer {
  stop(): Promise<void>;
}

export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const agent = createSubgraphAgent(options.subgraphMaxSockets);
  const gateway = new ApolloGateway({
    supergraphSdl: await readFile(options.supergraphPath, 'utf8'),
    buildService: ({ name, url }) => {
      const subgraphUrl = options.subgraphUrls[name] ?? url;
      if (!subgraphUrl) throw new Error(`No URL configured for subgraph "${name}"`);
      return new SubgraphDataSource({ name, url: subgraphUrl, agent, timeoutMs: options.subgraphTimeoutMs });
    },
    logger: options.logger,
  });
  const apollo = new ApolloServer<GatewayContext>({
    gateway,
    introspection: !options.production,
    includeStacktraceInErrorResponses: false,
    hideSchemaDetailsFromClientErrors: options.production,
    formatError: createErrorFormatter(options.logger),
    plugins: gatewayPlugins({ production: options.production }),
    logger: options.logger,
  });
  await apollo.start();
  const server = createHttpServer<GatewayContext>({
    apollo,
    logger: options.logger,
    routes: healthRoutes(),
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

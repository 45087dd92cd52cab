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
import { createHttpServer, type ListeningServer, listen, type RouteHandler } from './http/http-server.ts';
import type { Logger } from './logger.ts';

export interface SubgraphContext {
  principal: Principal;
}

export interface SubgraphServerOptions<TContext extends SubgraphContext> {
  typeDefs: DocumentNode;
  // biome-ignore lint/suspicious/noExplicitAny: resolver maps are typed by their own modules
  resolvers: GraphQLResolverMap<any>;
  verifier: JwtVerifier;
  /** Builds per-request state (DataLoaders and the like) for a verified caller. */
  createContext(principal: Principal): TContext;
  logger: Logger;
  production: boolean;
  port: number;
  host: string;
  routes?: Record<string, RouteHandler>;
  plugins?: ApolloServerPlugin<TContext>[];
}

export interface RunningSubgraph extends ListeningServer {
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
    plugins: [
      ApolloServerPluginLandingPageDisabled(),
      // Federated tracing (ftv1) only feeds Apollo's hosted usage reporting, which Quarry never sends to.
      ApolloServerPluginInlineTraceDisabled(),
      useOperationScope<TContext>(),
      ...(options.plugins ?? []),
    ],
    // runMain owns SIGTERM/SIGINT and drains everything in order (then closes Redis); Apollo's own
    // handler would stop the server underneath it, and the process then never exits.
    stopOnTerminationSignals: false,
    logger: options.logger,
  });
  await apollo.start();
  const server = createHttpServer<TContext>({
    apollo,
    logger: options.logger,
    routes: options.routes,
    context: async (request: IncomingMessage) =>
      options.createContext(await authenticate(options.verifier, request.headers.authorization)),
  });
  const listening = await listen(server, options.port, options.host);
  return {
    ...listening,
    async stop() {
      await listening.close();
      await apollo.stop();
    },
  };
}

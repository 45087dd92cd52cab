import { subgraphTypeDefs } from '../../schema/subgraphs.ts';
import type { JwtVerifier } from '../../server/auth/jwt-verifier.ts';
import { type DependencyHealth, healthRoutes } from '../../server/http/health.ts';
import type { ServerTls } from '../../server/http/tls.ts';
import type { Logger } from '../../server/logger.ts';
import type { ServiceMetrics } from '../../server/observability/metrics.ts';
import { type RunningSubgraph, startSubgraphServer } from '../../server/subgraph-server.ts';
import { createCursorCodec } from './cursor.ts';
import { createSearchResolvers, type SearchContext, type SearchLimits } from './resolvers.ts';
import type { SearchIndex } from './search-index.ts';

export interface SearchServiceOptions {
  index: SearchIndex;
  /** HMAC key for cursors; every replica must share it. */
  cursorSecret: string;
  limits: SearchLimits;
  verifier: JwtVerifier;
  logger: Logger;
  production: boolean;
  port: number;
  host: string;
  metrics: ServiceMetrics;
  tls?: ServerTls;
  /** What readiness reports; see `healthRoutes`. */
  health?: Record<string, DependencyHealth>;
}

export function startSearchService(options: SearchServiceOptions): Promise<RunningSubgraph> {
  return startSubgraphServer<SearchContext>({
    ...options,
    typeDefs: subgraphTypeDefs('search'),
    resolvers: createSearchResolvers(options.index, createCursorCodec(options.cursorSecret), options.limits),
    createContext: (principal) => ({ principal }),
    routes: healthRoutes(options.health),
  });
}

import { authConcern } from './config/auth.ts';
import { backendsConcern } from './config/backends.ts';
import { cacheConcern } from './config/cache.ts';
import { configLoader } from './config/compose.ts';
import { documentsConcern } from './config/documents.ts';
import { gatewayConcern } from './config/gateway.ts';
import { indexerConcern } from './config/indexer.ts';
import { observabilityConcern } from './config/observability.ts';
import { rateLimitConcern } from './config/rate-limits.ts';
import { resilienceConcern } from './config/resilience.ts';
import { searchConcern, searchWorkersConcern } from './config/search.ts';

/**
 * Configuration, parsed once at startup. Nothing else in Quarry reads
 * `process.env`. Each concern (server/config/*.ts) owns its variables; each
 * service composes the concerns it uses, so it is given, and checked for,
 * nothing else. docs/configuration.md lists which service reads which concern.
 */

export type { ElasticsearchConfig, MongoConfig } from './config/backends.ts';
export { ConfigError } from './config/compose.ts';

export const loadGatewayConfig = configLoader(
  authConcern,
  cacheConcern,
  resilienceConcern,
  rateLimitConcern,
  gatewayConcern,
  observabilityConcern,
);

export const loadDocumentsConfig = configLoader(
  authConcern,
  cacheConcern,
  resilienceConcern,
  documentsConcern,
  // It waits for the indexer's poll before answering a tenant erasure, and deletes from the search index.
  indexerConcern,
  searchWorkersConcern,
  backendsConcern,
  observabilityConcern,
);

export const loadSearchConfig = configLoader(
  authConcern,
  cacheConcern,
  resilienceConcern,
  searchConcern,
  searchWorkersConcern,
  backendsConcern,
  observabilityConcern,
);

/** The indexer verifies no token: no JWT_* variable is read. */
export const loadIndexerConfig = configLoader(
  cacheConcern,
  resilienceConcern,
  indexerConcern,
  searchWorkersConcern,
  backendsConcern,
  observabilityConcern,
);

/** Every concern: the one-process stack (`npm start`, `eval:relevance`), which runs every service. */
export const loadConfig = configLoader(
  authConcern,
  cacheConcern,
  resilienceConcern,
  rateLimitConcern,
  gatewayConcern,
  documentsConcern,
  searchConcern,
  searchWorkersConcern,
  indexerConcern,
  backendsConcern,
  observabilityConcern,
);

export type GatewayConfig = ReturnType<typeof loadGatewayConfig>;
export type DocumentsConfig = ReturnType<typeof loadDocumentsConfig>;
export type SearchConfig = ReturnType<typeof loadSearchConfig>;
export type IndexerConfig = ReturnType<typeof loadIndexerConfig>;
export type QuarryConfig = ReturnType<typeof loadConfig>;
export type JwtConfig = QuarryConfig['jwt'];

import { backendsConcern } from '../server/config/backends.ts';
import { cacheConcern } from '../server/config/cache.ts';
import { configLoader } from '../server/config/compose.ts';
import { gatewayConcern } from '../server/config/gateway.ts';
import { indexerConcern } from '../server/config/indexer.ts';
import { resilienceConcern } from '../server/config/resilience.ts';
import { searchWorkersConcern } from '../server/config/search.ts';

/*
 * What each command-line tool reads, as the services do (server/config.ts): the
 * concerns it uses and nothing else, so no tool is stopped by a variable it
 * never reads, such as JWT_* (none of them verifies a token).
 */

/** The document store and the search index: dead-letters, import, reindex, es:setup, tenant export. */
export const loadBackendsConfig = configLoader(backendsConcern);

/** tenant erase: both stores, Redis, and how long an indexer batch already pulled may take to land. */
export const loadErasureConfig = configLoader(
  backendsConcern,
  cacheConcern,
  resilienceConcern,
  indexerConcern,
  searchWorkersConcern,
);

/** pq:build: the supergraph and the operation limits the gateway checks operations against. */
export const loadOperationLimitsConfig = configLoader(gatewayConcern);

import { hash } from 'node:crypto';
import { operationFromDocument, Supergraph } from '@apollo/federation-internals';
import { type QueryPlan, type QueryPlanCache, QueryPlanner } from '@apollo/query-planner';
import { InMemoryLRUCache } from '@apollo/utils.keyvaluecache';
import type { PersistedOperation } from './persisted-operations/manifest.ts';

/** What @apollo/gateway keeps its plans in when given none: about 30 MiB, by the plans' JSON size. */
export function createQueryPlanCache(): QueryPlanCache {
  return new InMemoryLRUCache<QueryPlan>({
    maxSize: 30 * 1024 * 1024,
    sizeCalculation: (plan) => Buffer.byteLength(JSON.stringify(plan), 'utf8'),
  });
}

/**
 * The keys @apollo/gateway looks an operation's plan up under: the sha256
 * of its text (Apollo Server's `queryHash`, which a manifest id is), hashed
 * again with the operation name when the request names one. A request may
 * or may not name it, so both.
 */
export function queryPlanKeys({ body, name }: Pick<PersistedOperation, 'body' | 'name'>): [string, string] {
  const queryHash = hash('sha256', body, 'hex');
  return [queryHash, hash('sha256', `${queryHash}${name}`, 'hex')];
}

/**
 * Plans the persisted operations into `cache`, the plan cache the gateway
 * is given (`queryPlannerConfig.cache`), so the first request of each finds
 * its plan instead of planning it. Call it once the gateway has loaded its
 * supergraph, which empties the cache. The plans come from a planner built
 * here on the same supergraph and configuration (the defaults) as the
 * gateway's, which `ApolloGateway` keeps private. Returns how many
 * operations were planned.
 */
export async function warmQueryPlans({
  supergraphSdl,
  operations,
  cache,
}: {
  supergraphSdl: string;
  operations: Iterable<PersistedOperation>;
  cache: QueryPlanCache;
}): Promise<number> {
  const supergraph = Supergraph.build(supergraphSdl);
  const planner = new QueryPlanner(supergraph);
  let planned = 0;
  for (const operation of operations) {
    const plan = planner.buildQueryPlan(
      operationFromDocument(supergraph.apiSchema(), operation.document, { operationName: operation.name }),
    );
    for (const key of queryPlanKeys(operation)) await cache.set(key, plan);
    planned++;
  }
  return planned;
}

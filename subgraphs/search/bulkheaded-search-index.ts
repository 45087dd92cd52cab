import { workerRestartOf } from '../../server/embedded/worker-pool.ts';
import type { HoldSlot, TenantBulkheads } from '../../server/resilience/tenant-bulkheads.ts';
import type { SearchIndex } from './search-index.ts';

/**
 * A search stopped at its deadline cost a worker. The caller is answered at
 * once, but the tenant's slot stays taken until the replacement is ready: a
 * tenant holds at most its share of the workers, restarting ones included
 * (a search its caller abandoned holds the slot until its worker is free).
 */
const holdingRestarts =
  (holdSlot: HoldSlot) =>
  (error: unknown): never => {
    const restart = workerRestartOf(error);
    if (restart) holdSlot(restart);
    throw error;
  };

/**
 * Searches and suggestions within the tenant's share of the index (see
 * `createTenantBulkheads`). It sits outside the breaker, so a tenant's
 * refusals never reach it; `apply` is the indexer's and is not limited.
 */
export function bulkheadedSearchIndex(index: SearchIndex, bulkheads: TenantBulkheads): SearchIndex {
  return {
    search: (request, options) =>
      bulkheads.run(request.tenantId, (holdSlot) =>
        index.search(request, options).catch(holdingRestarts(holdSlot)),
      ),
    suggest: (tenantId, prefix, first, options) =>
      bulkheads.run(tenantId, (holdSlot) =>
        index.suggest(tenantId, prefix, first, options).catch(holdingRestarts(holdSlot)),
      ),
    apply: (changes) => index.apply(changes),
    close: () => index.close(),
  };
}

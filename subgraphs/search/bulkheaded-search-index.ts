import type { TenantBulkheads } from '../../server/resilience/tenant-bulkheads.ts';
import type { SearchIndex } from './search-index.ts';

/**
 * Searches and suggestions within the tenant's share of the index (see
 * `createTenantBulkheads`). It sits outside the breaker, so a tenant's
 * refusals never reach it; `apply` is the indexer's and is not limited.
 */
export function bulkheadedSearchIndex(index: SearchIndex, bulkheads: TenantBulkheads): SearchIndex {
  return {
    search: (request) => bulkheads.run(request.tenantId, () => index.search(request)),
    suggest: (tenantId, prefix, first) =>
      bulkheads.run(tenantId, () => index.suggest(tenantId, prefix, first)),
    apply: (changes) => index.apply(changes),
    close: () => index.close(),
  };
}

import type { TenantBulkheads } from '../../server/resilience/tenant-bulkheads.ts';
import type { DocumentStore } from './document-store.ts';

/**
 * The calls made for one tenant, within that tenant's share of the store
 * (see `createTenantBulkheads`), so one tenant's reads and writes hold only
 * a share of the store's connections and of this service's time. It sits
 * outside the breakers, so a tenant's refusals never count against them,
 * and inside the cache, so a cache hit takes no slot. The outbox calls
 * (`pull`, `acknowledge`, `oldestPendingAt`) are the indexer's and are not limited.
 */
export function bulkheadedDocumentStore(store: DocumentStore, bulkheads: TenantBulkheads): DocumentStore {
  return {
    findByIds: (tenantId, ids, options) =>
      bulkheads.run(tenantId, () => store.findByIds(tenantId, ids, options)),
    create: (tenantId, document, id, options) =>
      bulkheads.run(tenantId, () => store.create(tenantId, document, id, options)),
    update: (tenantId, id, patch, expectedVersion, options) =>
      bulkheads.run(tenantId, () => store.update(tenantId, id, patch, expectedVersion, options)),
    delete: (tenantId, id, options) => bulkheads.run(tenantId, () => store.delete(tenantId, id, options)),
    usage: (tenantId) => bulkheads.run(tenantId, () => store.usage(tenantId)),
    pull: (limit, scope) => store.pull(limit, scope),
    acknowledge: (changes) => store.acknowledge(changes),
    oldestPendingAt: () => store.oldestPendingAt(),
    close: () => store.close(),
  };
}

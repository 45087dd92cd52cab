import type { DependencyPolicy } from '../../server/resilience/policy.ts';
import { type DocumentStore, isStoreAnswer } from './document-store.ts';

/**
 * Every store call under the documents-store policy. Reads retry; writes run
 * once, because a write that timed out may have committed, and a retry could
 * then fail with a conflict or write twice. A failed call surfaces as
 * DependencyUnavailableError, which resolvers show as DOCUMENTS_UNAVAILABLE.
 */
export function resilientDocumentStore(store: DocumentStore, policy: DependencyPolicy): DocumentStore {
  const read = { idempotent: true, isExpected: isStoreAnswer };
  const write = { idempotent: false, isExpected: isStoreAnswer };
  return {
    findByIds: (tenantId, ids) =>
      policy.run(() => store.findByIds(tenantId, ids), { ...read, operation: 'findByIds' }),
    create: (tenantId, document, id, options) =>
      policy.run(() => store.create(tenantId, document, id, options), { ...write, operation: 'create' }),
    update: (tenantId, id, patch, expectedVersion, options) =>
      policy.run(() => store.update(tenantId, id, patch, expectedVersion, options), {
        ...write,
        operation: 'update',
      }),
    delete: (tenantId, id) => policy.run(() => store.delete(tenantId, id), { ...write, operation: 'delete' }),
    usage: (tenantId) => policy.run(() => store.usage(tenantId), { ...read, operation: 'usage' }),
    pull: (limit) => policy.run(() => store.pull(limit), { ...read, operation: 'pull' }),
    acknowledge: (changes) =>
      policy.run(() => store.acknowledge(changes), { ...write, operation: 'acknowledge' }),
    oldestPendingAt: () =>
      policy.run(() => store.oldestPendingAt(), { ...read, operation: 'oldestPendingAt' }),
    close: () => store.close(),
  };
}

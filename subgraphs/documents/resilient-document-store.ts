import type { DependencyPolicy } from '../../server/resilience/policy.ts';
import { type DocumentStore, isStoreAnswer } from './document-store.ts';

/** Reads and writes under breakers of their own: a store that cannot write (a full disk) can still serve reads. */
export interface DocumentStorePolicies {
  reads: DependencyPolicy;
  writes: DependencyPolicy;
}

/** The breaker names: readiness follows reads; writes failing shows as their own health entry and metric. */
export const documentStoreDependencies = {
  reads: 'documents-store',
  writes: 'documents-store-writes',
} as const;

/**
 * Every store call under its policy. Reads retry; writes run once, because a
 * write that timed out may have committed, and a retry could then fail with
 * a conflict or write twice. A failed call surfaces as
 * DependencyUnavailableError, which resolvers show as DOCUMENTS_UNAVAILABLE.
 * A call made for a tenant carries it, so its timeouts count against that
 * tenant's breaker only (see `RunOptions.tenantId`).
 */
export function resilientDocumentStore(
  store: DocumentStore,
  { reads, writes }: DocumentStorePolicies,
): DocumentStore {
  const read = { idempotent: true, isExpected: isStoreAnswer };
  const write = { idempotent: false, isExpected: isStoreAnswer };
  return {
    findByIds: (tenantId, ids, options) =>
      reads.run((signal) => store.findByIds(tenantId, ids, { signal }), {
        ...read,
        operation: 'findByIds',
        stopsOnAbort: true,
        signal: options?.signal,
        tenantId,
      }),
    create: (tenantId, document, id, options) =>
      writes.run(() => store.create(tenantId, document, id, options), {
        ...write,
        operation: 'create',
        tenantId,
      }),
    update: (tenantId, id, patch, expectedVersion, options) =>
      writes.run(() => store.update(tenantId, id, patch, expectedVersion, options), {
        ...write,
        operation: 'update',
        tenantId,
      }),
    delete: (tenantId, id, options) =>
      writes.run(() => store.delete(tenantId, id, options), { ...write, operation: 'delete', tenantId }),
    usage: (tenantId) => reads.run(() => store.usage(tenantId), { ...read, operation: 'usage', tenantId }),
    pull: (limit, scope) => reads.run(() => store.pull(limit, scope), { ...read, operation: 'pull' }),
    acknowledge: (changes) =>
      writes.run(() => store.acknowledge(changes), { ...write, operation: 'acknowledge' }),
    oldestPendingAt: () =>
      reads.run(() => store.oldestPendingAt(), { ...read, operation: 'oldestPendingAt' }),
    close: () => store.close(),
  };
}

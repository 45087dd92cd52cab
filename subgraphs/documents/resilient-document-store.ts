import { type DependencyPolicy, isDependencyUnavailable } from '../../server/resilience/policy.ts';
import { type DocumentStore, isStoreAnswer, WriteOutcomeUnknownError } from './document-store.ts';

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
 * A client's write that failed after it reached the store: abandoned at its timeout (it runs on), or
 * the store itself could not learn its outcome. One refused by an open breaker, or failed outright,
 * stays DependencyUnavailableError.
 */
function outcomeUnknownIfSent(error: unknown): unknown {
  if (!isDependencyUnavailable(error) || error.breakerOpen) return error;
  if (error.cause instanceof WriteOutcomeUnknownError) return error.cause;
  if (error.timedOut)
    return new WriteOutcomeUnknownError('The write ran past its timeout and may still be applied', {
      cause: error,
    });
  return error;
}

/**
 * Every store call under its policy. Reads retry; writes run once, because a
 * write that timed out may have committed, and a retry could then fail with
 * a conflict or write twice. A failed call surfaces as
 * DependencyUnavailableError, which resolvers show as DOCUMENTS_UNAVAILABLE;
 * a client's write that may have been applied as WriteOutcomeUnknownError
 * (WRITE_OUTCOME_UNKNOWN).
 * A call made for a tenant carries it, so its timeouts count against that
 * tenant's breaker only (see `RunOptions.tenantId`).
 */
export function resilientDocumentStore(
  store: DocumentStore,
  { reads, writes }: DocumentStorePolicies,
): DocumentStore {
  const read = { idempotent: true, isExpected: isStoreAnswer };
  const write = { idempotent: false, isExpected: isStoreAnswer };
  const clientWrite = <T>(call: () => Promise<T>, operation: string, tenantId: string) =>
    writes.run(call, { ...write, operation, tenantId }).catch((error: unknown) => {
      throw outcomeUnknownIfSent(error);
    });
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
      clientWrite(() => store.create(tenantId, document, id, options), 'create', tenantId),
    update: (tenantId, id, patch, expectedVersion, options) =>
      clientWrite(() => store.update(tenantId, id, patch, expectedVersion, options), 'update', tenantId),
    delete: (tenantId, id, options) =>
      clientWrite(() => store.delete(tenantId, id, options), 'delete', tenantId),
    usage: (tenantId) => reads.run(() => store.usage(tenantId), { ...read, operation: 'usage', tenantId }),
    pull: (limit, scope) => reads.run(() => store.pull(limit, scope), { ...read, operation: 'pull' }),
    acknowledge: (changes) =>
      writes.run(() => store.acknowledge(changes), { ...write, operation: 'acknowledge' }),
    oldestPendingAt: () =>
      reads.run(() => store.oldestPendingAt(), { ...read, operation: 'oldestPendingAt' }),
    close: () => store.close(),
  };
}

import { isDeadlineExceeded, isWorkersBusy } from '../../server/embedded/worker-pool.ts';
import type { DependencyPolicy } from '../../server/resilience/policy.ts';
import type { SearchIndex } from './search-index.ts';
import type { SynonymStore } from './synonyms.ts';

/**
 * Every index call under the search-index policy. Searches and suggestions
 * retry; `apply` runs once, and the indexer's own backoff (with the outbox
 * keeping the changes) is its retry.
 *
 * A read stopped at its deadline is the query's own cost, not the index
 * failing: it is neither retried (it would cost the same again) nor counted
 * by the breaker, so one tenant's slow queries never open it for the others.
 * Nor is a read refused because every worker was busy: the index answers,
 * it is only full. Reads carry their tenant, so a tenant's timeouts count
 * against that tenant's breaker only (see `RunOptions.tenantId`).
 * Each attempt gets its own signal, aborted at its timeout or when the
 * caller's signal aborts, and the adapter stops its backend call then.
 */
export function resilientSearchIndex(index: SearchIndex, policy: DependencyPolicy): SearchIndex {
  const read = {
    idempotent: true,
    isExpected: (error: unknown) => isDeadlineExceeded(error) || isWorkersBusy(error),
    stopsOnAbort: true,
  };
  return {
    search: (request, options) =>
      policy.run((signal) => index.search(request, { signal }), {
        ...read,
        operation: 'search',
        signal: options?.signal,
        tenantId: request.tenantId,
      }),
    suggest: (tenantId, prefix, first, options) =>
      policy.run((signal) => index.suggest(tenantId, prefix, first, { signal }), {
        ...read,
        operation: 'suggest',
        signal: options?.signal,
        tenantId,
      }),
    apply: (changes) => policy.run(() => index.apply(changes), { idempotent: false, operation: 'apply' }),
    close: () => index.close(),
  };
}

/** Synonym reads and writes under the same policy; a replace writes the same state again, so it may retry. */
export function resilientSynonymStore(store: SynonymStore, policy: DependencyPolicy): SynonymStore {
  return {
    synonyms: (tenantId) =>
      policy.run(() => store.synonyms(tenantId), { idempotent: true, operation: 'synonyms' }),
    replaceSynonyms: (tenantId, synonyms) =>
      policy.run(() => store.replaceSynonyms(tenantId, synonyms), {
        idempotent: true,
        operation: 'replaceSynonyms',
      }),
  };
}
